import Foundation
import JSONFormat
import NeuralLayers
import TensorCore

/// Which linear layers of the blocks `tessera compress` factorises.
public enum CompressionTarget: String, Sendable, CaseIterable, Codable {
  /// The query, key, value and output projections of every attention.
  case attention
  /// The feed-forward layers.
  case ffn
}

/// Offline low-rank compression of a model's block layers (truncated SVD,
/// no fine-tuning), and the `low_rank` section of a compressed folder's
/// `config.json`, which lists each factorised layer's rank.
///
/// A compressed folder keeps the factors (`<layer>.down.weight` `[r, in]`,
/// `<layer>.up.weight` `[out, r]`, the bias as `<layer>.bias`); `--dense`
/// writes their products instead, a plain folder reference tools load.
public enum LowRankCompression {
  public static let sectionKey = "low_rank"

  /// The block layers `targets` names that are still dense, with their key paths, in key order.
  public static func targetLayers(of model: any Seq2SeqModel, targets: Set<CompressionTarget>) -> [(key: String, layer: Linear)] {
    var wanted = Set<ObjectIdentifier>()
    for block in model.encoder.blocks + model.decoder.blocks {
      guard let tree = block as? any LayerTree else { continue }
      for (_, layer) in tree.sublayers {
        let target: CompressionTarget? = layer is MultiHeadAttention ? .attention : (layer is FeedForward ? .ffn : nil)
        guard let target, targets.contains(target) else { continue }
        for (_, linear) in LinearLayers.all(in: layer) { wanted.insert(ObjectIdentifier(linear)) }
      }
    }
    return LinearLayers.all(in: model).compactMap { entry in
      guard wanted.contains(ObjectIdentifier(entry.layer)), let linear = entry.layer as? Linear else { return nil }
      return (entry.key, linear)
    }
  }

  /// Replaces each dense target layer by its truncated SVD at the rank that
  /// stores `1 / ratio` of its weights; returns each layer's rank.
  ///
  /// With `rowImportance` for a layer (Fisher-weighted SVD: each output row's
  /// summed squared gradients on calibration data), the SVD is of
  /// `diag(√I) · W`, and `diag(1/√I)` goes back into the left factor, so the
  /// rows that matter to the loss are approximated best.
  @discardableResult
  public static func factorise(
    _ model: any Seq2SeqModel, ratio: Double, targets: Set<CompressionTarget>, rowImportance: [String: [Float]] = [:],
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> [(key: String, rank: Int)] {
    let layers = targetLayers(of: model, targets: targets)
    var ranks: [(String, Int)] = []
    for (done, (key, linear)) in layers.enumerated() {
      let rank = LowRankLinear.rank(inputSize: linear.inputSize, outputSize: linear.outputSize, ratio: ratio)
      let factors = try LowRankLinear(factorising: linear, rank: rank, rowImportance: rowImportance[key])
      try LinearLayers.replace(at: key, in: model, with: factors)
      ranks.append((key, rank))
      progress(done + 1, layers.count)
    }
    return ranks
  }

  /// The low-rank layers of `model` with their ranks.
  public static func ranks(of model: any Seq2SeqModel) -> [(key: String, rank: Int)] {
    LinearLayers.all(in: model).compactMap { entry in (entry.layer as? LowRankLinear).map { (entry.key, $0.rank) } }
  }

  /// The `low_rank` member for `config.json` (nil without low-rank layers).
  static func section(of model: any Seq2SeqModel) -> JSONValue? {
    let ranks = ranks(of: model)
    guard !ranks.isEmpty else { return nil }
    return .object([("method", .string("svd")), ("ranks", .object(ranks.map { ($0.key, .number(Double($0.rank))) }))])
  }

  /// Puts a zero low-rank layer of each listed rank in `model`, for the strict loader to fill.
  static func install(_ section: JSONValue, into model: any Seq2SeqModel, configFile: String) throws {
    func invalid(_ reason: String) -> ModelFolderError { .invalidConfiguration(file: configFile, reason: "field '\(sectionKey)': \(reason)") }
    guard case .object(let members)? = section["ranks"] else { throw invalid("'ranks' must map layer keys to ranks") }
    let layers = Dictionary(LinearLayers.all(in: model).map { ($0.key, $0.layer) }, uniquingKeysWith: { a, _ in a })
    for (key, value) in members {
      guard let linear = layers[key] as? Linear else { throw invalid("'\(key)' is not a linear layer of this model") }
      guard let rank = value.integerValue, rank >= 1, rank <= min(linear.inputSize, linear.outputSize) else {
        throw invalid("the rank of '\(key)' must be an integer from 1 to \(min(linear.inputSize, linear.outputSize)), found \(value.jsonText)")
      }
      try LinearLayers.replace(
        at: key, in: model,
        with: LowRankLinear(inputSize: linear.inputSize, outputSize: linear.outputSize, rank: rank, hasBias: linear.bias != nil))
    }
  }

  /// The checkpoint tensors with each factorised layer's own parameters (low-rank
  /// factors, autoencoder latents) in place of its fused weight.
  static func checkpointTensors(of model: any Seq2SeqModel, from dense: [String: Tensor]) -> [String: Tensor] {
    var tensors = dense
    for (key, layer) in LinearLayers.all(in: model) {
      guard let factorised = layer as? any FactorisedLinearLayer else { continue }
      tensors["\(key).weight"] = nil
      for (name, parameter) in factorised.namedParameters() { tensors["\(key).\(name)"] = parameter.value.detached() }
    }
    return tensors
  }
}
