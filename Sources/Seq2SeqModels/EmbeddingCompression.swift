import Foundation
import JSONFormat
import NeuralLayers
import TensorCore

/// How `tessera compress --method embedding-…` finds the shared embedding's factors.
public enum EmbeddingCompressionMethod: String, Sendable, CaseIterable {
  /// A linear autoencoder over the table's rows, trained on a direction-aware loss.
  case autoencoder
  /// Truncated SVD of the table.
  case svd
}

/// The shared token embedding `[V, C]` stored compressed, as latents
/// `[V, k]` and a linear decoder `k → C` (``EmbeddingFactors``), and the
/// `compressed_embedding` section of such a folder's `config.json`.
///
/// The table is decoded once (when compressed, or when the folder loads)
/// into the plain embedding the model runs on; a tied head reads that same
/// table. An untied head (T5 v1.1, BART with `tie_word_embeddings: false`)
/// is a layer of its own and stays as it is. A folder keeps
/// `<shared>.latents`, `<shared>.decoder.weight` (and `.decoder.bias`) in
/// place of the table and its tied copies; `--dense` writes the decoded table.
public enum EmbeddingCompression {
  public static let sectionKey = "compressed_embedding"

  /// The shared table of `model` and whether the head reads it, for compressing.
  public static func table(of model: any Seq2SeqModel) throws -> (table: Tensor, headIsTied: Bool) {
    let holder = try sharedEmbedding(of: model)
    if let factors = holder.shared.storedFactors {
      throw EmbeddingCompressionError.alreadyCompressed(method: factors.method, rank: factors.rank)
    }
    return (holder.shared.weight.value.detached(), holder.headIsTied && holder.head == nil)
  }

  /// The rank that stores about `1 / ratio` of a `[vocabulary, width]` table:
  /// `⌊V·C / (ratio·(V + C))⌋` floats per token and per decoder column.
  public static func rank(vocabulary: Int, width: Int, ratio: Double) throws -> Int {
    let largest = Double(vocabulary * width) / Double(vocabulary + width)
    guard ratio.isFinite, ratio > 1 else { throw EmbeddingCompressionError.invalidRatio(ratio, largest: largest) }
    let rank = Int(largest / ratio)
    guard rank >= 1 else { throw EmbeddingCompressionError.invalidRatio(ratio, largest: largest) }
    return rank
  }

  /// The best rank-`rank` factors of `table` (truncated SVD, the singular
  /// values in the latents; no decoder bias).
  public static func svdFactors(of table: Tensor, rank: Int) throws -> EmbeddingFactors {
    let (left, right) = try SingularValueDecomposition(table).truncated(rank: rank)
    let decoder = RowDecoder(linear: Linear(weight: Parameter(right.transposed2D())))
    return EmbeddingFactors(latents: left, decoder: decoder, method: EmbeddingCompressionMethod.svd.rawValue)
  }

  /// Makes `factors` the stored form of `model`'s shared embedding; the table becomes their decoding.
  public static func apply(_ factors: EmbeddingFactors, to model: any Seq2SeqModel) throws {
    let shared = try sharedEmbedding(of: model).shared
    guard factors.table.shape == shared.weight.shape else {
      throw EmbeddingCompressionError.shapeMismatch(expected: shared.weight.shape, found: factors.table.shape)
    }
    shared.setFactors(factors)
  }

  /// The factors `model`'s shared embedding is stored as (nil for a plain table).
  public static func factors(of model: any Seq2SeqModel) -> EmbeddingFactors? {
    (model as? any SharedEmbeddingHead)?.shared.storedFactors
  }

  /// Parameters as the folder stores them: a compressed shared embedding
  /// counts its factors, not the table decoded from them.
  public static func storedParameterCount(of model: any Seq2SeqModel) -> Int {
    guard let factors = factors(of: model) else { return model.parameterCount }
    return model.parameterCount - factors.table.count + factors.storedCount
  }

  private static func sharedEmbedding(of model: any Seq2SeqModel) throws -> any SharedEmbeddingHead {
    guard let holder = model as? any SharedEmbeddingHead else { throw EmbeddingCompressionError.noSharedEmbedding(model.modelType) }
    return holder
  }

  /// The `compressed_embedding` member for `config.json` (nil for a plain table).
  static func section(of model: any Seq2SeqModel) -> JSONValue? {
    guard let factors = factors(of: model) else { return nil }
    return .object([("method", .string(factors.method)), ("rank", .number(Double(factors.rank))), ("decoder_bias", .bool(factors.hasBias))])
  }

  /// The checkpoint tensors with the factors in place of the shared table and its tied copies.
  static func checkpointTensors(of model: any Seq2SeqModel, from dense: [String: Tensor]) -> [String: Tensor] {
    guard let holder = model as? any SharedEmbeddingHead, let factors = holder.shared.storedFactors else { return dense }
    let key = type(of: holder).sharedKey
    var tensors = dense
    for copy in [key + ".weight"] + holder.tiedCopyKeys { tensors[copy] = nil }
    for (name, tensor) in factors.namedTensors { tensors["\(key).\(name)"] = tensor }
    return tensors
  }

  /// Reads the factors a folder's section describes from `weights`, makes
  /// them `model`'s stored form and returns the weights with the decoded
  /// table in their place, for the strict loader.
  static func install(
    _ section: JSONValue, weights: [String: Tensor], into model: any Seq2SeqModel, source: String, configFile: String
  ) throws -> [String: Tensor] {
    func invalid(_ reason: String) -> ModelFolderError { .invalidConfiguration(file: configFile, reason: "field '\(sectionKey)': \(reason)") }
    guard let holder = model as? any SharedEmbeddingHead else { throw invalid("a \(model.modelType) model has no shared embedding") }
    let methods = EmbeddingCompressionMethod.allCases.map(\.rawValue)
    guard case .string(let method)? = section["method"], methods.contains(method) else {
      throw invalid("'method' must be one of \(methods.joined(separator: ", ")), found \(section["method"]?.jsonText ?? "nothing")")
    }
    let (vocabulary, width) = (holder.shared.count, holder.shared.weight.shape[1])
    guard let rank = section["rank"]?.integerValue, rank >= 1, rank <= Swift.min(vocabulary, width) else {
      throw invalid("'rank' must be an integer from 1 to \(Swift.min(vocabulary, width)), found \(section["rank"]?.jsonText ?? "nothing")")
    }
    guard case .bool(let hasBias)? = section["decoder_bias"] else { throw invalid("'decoder_bias' must be true or false") }
    let key = type(of: holder).sharedKey
    var remaining = weights
    // The table is the factors' decoding; a stored table beside them would be a second, conflicting source.
    if remaining[key + ".weight"] != nil { throw ParameterLoadingError.unexpectedKey(key + ".weight", source: source) }
    func take(_ name: String, shape: [Int]) throws -> Tensor {
      guard let tensor = remaining.removeValue(forKey: "\(key).\(name)") else { throw ParameterLoadingError.missingKey("\(key).\(name)", source: source) }
      guard tensor.shape == shape else { throw ParameterLoadingError.shapeMismatch("\(key).\(name)", expected: shape, found: tensor.shape, source: source) }
      return tensor
    }
    let latents = try take("latents", shape: [vocabulary, rank])
    let weight = try take("decoder.weight", shape: [width, rank])
    let bias = hasBias ? try take("decoder.bias", shape: [width]) : nil
    let decoder = RowDecoder(linear: Linear(weight: Parameter(weight), bias: bias.map { Parameter($0) }))
    let factors = EmbeddingFactors(latents: latents, decoder: decoder, method: method)
    remaining[key + ".weight"] = factors.table
    holder.shared.factors = factors
    return remaining
  }
}

/// A shared embedding that cannot be compressed.
public enum EmbeddingCompressionError: Error, CustomStringConvertible, Equatable {
  case invalidRatio(Double, largest: Double)
  case alreadyCompressed(method: String, rank: Int)
  case noSharedEmbedding(String)
  case shapeMismatch(expected: [Int], found: [Int])

  public var description: String {
    switch self {
    case .invalidRatio(let ratio, let largest):
      "--ratio must be a number > 1 that leaves the table at least rank 1 (at most \(String(format: "%.1f", largest)) here), got \(ratio)"
    case .alreadyCompressed(let method, let rank):
      "the shared embedding is already compressed (\(method), rank \(rank)); compress the model it came from"
    case .noSharedEmbedding(let type): "a \(type) model has no shared embedding to compress"
    case .shapeMismatch(let expected, let found): "the factors decode to a \(found) table; the shared embedding is \(expected)"
    }
  }
}
