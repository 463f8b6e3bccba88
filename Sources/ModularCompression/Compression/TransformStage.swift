import Foundation
import JSONFormat
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// The offline factorisations `tessera compress` offers.
public enum CompressionMethod: String, Sendable, Codable, CaseIterable {
  case svd, fwsvd, ae
  case aeShared = "ae-shared"
  /// The shared token embedding (and a tied head) as latents and a decoder.
  case embeddingAE = "embedding-ae", embeddingSVD = "embedding-svd"

  /// Whether the method needs calibration examples (Fisher-weighted SVD's squared gradients).
  public var needsCalibration: Bool { self == .fwsvd }
  /// Whether it trains autoencoders (and so takes `steps`).
  public var isAutoencoder: Bool { self == .ae || self == .aeShared || self == .embeddingAE }
  /// Whether it compresses the shared embedding rather than the blocks' layers (`targets`).
  public var compressesEmbedding: Bool { self == .embeddingAE || self == .embeddingSVD }
  /// Whether its decoder may be non-linear (`decoder`: the weight autoencoders; the embedding's stays linear).
  public var takesDecoderActivation: Bool { self == .ae || self == .aeShared }
}

/// What one `compress` stage does: the settings of `tessera compress`.
public struct CompressionSettings: Sendable, Hashable, Codable {
  public var method: CompressionMethod
  /// Each target layer keeps about `1 / ratio` of its weights.
  public var ratio: Double
  public var targets: [CompressionTarget]
  /// ae, ae-shared: Adam steps per autoencoder.
  public var steps: Int
  /// fwsvd: calibration examples.
  public var calibration: Int
  /// ae, ae-shared: `tanh` for the non-linear autoencoder.
  public var decoder: RowDecoder.Activation

  public init(
    method: CompressionMethod, ratio: Double, targets: [CompressionTarget] = CompressionTarget.allCases,
    steps: Int = AutoencoderSettings().steps, calibration: Int = 256, decoder: RowDecoder.Activation = .linear
  ) {
    (self.method, self.ratio, self.targets, self.steps, self.calibration) = (method, ratio, targets, steps, calibration)
    self.decoder = decoder
  }

  enum CodingKeys: String, CodingKey, CaseIterable { case method, ratio, targets, steps, calibration, decoder }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = CompressionSettings(method: .svd, ratio: 2)
    self.init(
      method: try c.decode(CompressionMethod.self, forKey: .method), ratio: try c.decode(Double.self, forKey: .ratio),
      targets: try c.decodeIfPresent([CompressionTarget].self, forKey: .targets) ?? d.targets,
      steps: try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps,
      calibration: try c.decodeIfPresent(Int.self, forKey: .calibration) ?? d.calibration,
      decoder: try c.decodeIfPresent(RowDecoder.Activation.self, forKey: .decoder) ?? d.decoder)
    if method.compressesEmbedding, c.contains(.targets) {
      throw DecodingError.dataCorruptedError(forKey: .targets, in: c, debugDescription: "names block layers; \(method.rawValue) compresses the shared embedding")
    }
    if let problem = problem {
      throw DecodingError.dataCorruptedError(forKey: problem.key, in: c, debugDescription: problem.reason)
    }
  }

  /// The first bad field and why.
  var problem: (key: CodingKeys, reason: String)? {
    if !ratio.isFinite || ratio <= 1 { return (.ratio, "must be a number > 1 (each target layer keeps about 1/R of its weights)") }
    if targets.isEmpty || Set(targets).count != targets.count { return (.targets, "must list attention and/or ffn, each once") }
    if steps < 1 { return (.steps, "must be at least 1") }
    if calibration < 1 { return (.calibration, "must be at least 1") }
    if decoder != .linear, !method.takesDecoderActivation { return (.decoder, "is for ae and ae-shared (their decoders may end in tanh)") }
    return nil
  }

  /// Factorises `model`'s target layers in place; `calibration` (fwsvd only)
  /// gives the rows' Fisher importance. Returns what it did, in words.
  @discardableResult
  public func apply(
    to model: any Seq2SeqModel, calibration data: TokenizedExamples? = nil, progress: (String, Int, Int) -> Void = { _, _, _ in }
  ) throws -> String {
    if method.compressesEmbedding { return try compressEmbedding(of: model, progress: progress) }
    let targetSet = Set(targets)
    let layers = LowRankCompression.targetLayers(of: model, targets: targetSet)
    guard !layers.isEmpty else {
      throw TransformError.noTargetLayers(targets: targets.map(\.rawValue).sorted().joined(separator: " or "))
    }
    if method.isAutoencoder {
      progress("training autoencoders", 0, 1)
      let groups = try WeightAutoencoder.compress(
        model, ratio: ratio, targets: targetSet, shared: method == .aeShared, settings: AutoencoderSettings(steps: steps, decoder: decoder)
      ) { progress("training autoencoders", $0, $1) }
      let widths = Set(groups.map(\.latentWidth)).sorted().map(String.init).joined(separator: ", ")
      let meanLoss = groups.map { Double($0.loss) }.reduce(0, +) / Double(max(groups.count, 1))
      return "encoded \(groups.map(\.keys.count).reduce(0, +)) layers with \(groups.count) autoencoders (latent widths \(widths)), "
        + String(format: "mean final loss %.4f", meanLoss)
    }
    var importance: [String: [Float]] = [:]
    if method.needsCalibration {
      guard let data, data.count > 0 else { throw FisherError.noExamples }
      importance = try FisherImportance.rowImportance(of: model, layers: layers, data: data) { progress("calibrating", $0, $1) }
    }
    let ranks = try LowRankCompression.factorise(model, ratio: ratio, targets: targetSet, rowImportance: importance) {
      progress("factorising", $0, $1)
    }
    let rankList = Set(ranks.map(\.rank)).sorted().map(String.init).joined(separator: ", ")
    return "factorised \(ranks.count) layers by \(method == .fwsvd ? "Fisher-weighted" : "truncated") SVD "
      + "(\(SingularValueDecomposition.hasLAPACK ? "LAPACK" : "Jacobi")), ranks \(rankList)"
  }

  /// The stage's settings as its provenance records them.
  public var provenance: [(String, JSONValue)] {
    [
      ("method", .string(method.rawValue)), ("ratio", .number(ratio)),
      ("targets", .array((method.compressesEmbedding ? ["shared_embedding"] : targets.map(\.rawValue).sorted()).map { .string($0) })),
      ("calibration_examples", method.needsCalibration ? .number(Double(calibration)) : .null),
      ("steps", method.isAutoencoder ? .number(Double(steps)) : .null),
    ] + (decoder == .linear ? [] : [("decoder", .string(decoder.rawValue))])
  }
}

/// What one `prune` stage does: the settings of `tessera prune`.
public struct PruningSettings: Sendable, Hashable, Codable {
  public enum Method: String, Sendable, Codable, CaseIterable {
    /// Unstructured: the smallest weights by magnitude (``MagnitudePruning``).
    case magnitude
    /// Whole heads and feed-forward units, uniform per layer (``StructuredPruning``).
    case structured
  }

  public var method: Method
  /// The share of weights (magnitude) or of heads and units (structured) removed, in (0, 1).
  public var sparsity: Double
  /// magnitude: one threshold over all target layers, or one per layer.
  public var scope: PruningScope
  public var targets: [CompressionTarget]

  public init(method: Method, sparsity: Double, scope: PruningScope = .global, targets: [CompressionTarget] = CompressionTarget.allCases) {
    (self.method, self.sparsity, self.scope, self.targets) = (method, sparsity, scope, targets)
  }

  enum CodingKeys: String, CodingKey, CaseIterable { case method, sparsity, scope, targets }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      method: try c.decode(Method.self, forKey: .method), sparsity: try c.decode(Double.self, forKey: .sparsity),
      scope: try c.decodeIfPresent(PruningScope.self, forKey: .scope) ?? .global,
      targets: try c.decodeIfPresent([CompressionTarget].self, forKey: .targets) ?? CompressionTarget.allCases)
    if !(sparsity > 0 && sparsity < 1) {
      throw DecodingError.dataCorruptedError(forKey: .sparsity, in: c, debugDescription: "must be a number between 0 and 1 (the share removed), exclusive")
    }
    if targets.isEmpty || Set(targets).count != targets.count {
      throw DecodingError.dataCorruptedError(forKey: .targets, in: c, debugDescription: "must list attention and/or ffn, each once")
    }
    if method == .structured, c.contains(.scope) {
      throw DecodingError.dataCorruptedError(forKey: .scope, in: c, debugDescription: "is for magnitude pruning; structured pruning removes the same share of every layer")
    }
  }

  /// The stage's settings as its provenance records them.
  public var provenance: [(String, JSONValue)] {
    [
      ("method", .string(method.rawValue)), ("sparsity", .number(sparsity)),
      ("scope", method == .magnitude ? .string(scope.rawValue) : .null),
      ("targets", .array(targets.map(\.rawValue).sorted().map { .string($0) })),
    ]
  }

  /// `model` pruned: the same model for magnitude pruning, a smaller one for structured.
  public func applied(to model: any Seq2SeqModel) throws -> any Seq2SeqModel {
    switch method {
    case .magnitude:
      guard !LowRankCompression.targetLayers(of: model, targets: Set(targets)).isEmpty else {
        throw TransformError.noTargetLayers(targets: targets.map(\.rawValue).sorted().joined(separator: " or "))
      }
      MagnitudePruning.prune(model, sparsity: sparsity, scope: scope, targets: Set(targets))
      return model
    case .structured:
      return try StructuredPruning.prune(model, sparsity: sparsity, targets: Set(targets)).model
    }
  }
}

/// One stage of a transform chain (`tessera compare --transforms`): what
/// `tessera compress`, `tessera prune` or `tessera quantize` does to a model
/// folder, applied to a model in memory. Written as a one-key object:
/// `{"compress": {"method": "ae", "ratio": 2}}`, `{"prune": {"method": "structured", "sparsity": 0.5}}`,
/// `{"quantize": {"scheme": "int8"}}`.
public enum TransformStage: Sendable, Hashable, Codable {
  case compress(CompressionSettings)
  case prune(PruningSettings)
  case quantize(QuantizationSettings)

  enum Kind: String, CodingKey, CaseIterable { case compress, prune, quantize }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Kind.self)
    let present = try decoder.container(keyedBy: JSONKey.self).allKeys.map(\.stringValue)
    guard present.count == 1, let kind = Kind(rawValue: present[0]) else {
      throw DecodingError.dataCorrupted(.init(
        codingPath: decoder.codingPath,
        debugDescription: "a stage is an object with one key, one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))"))
    }
    switch kind {
    case .compress: self = .compress(try c.decode(CompressionSettings.self, forKey: .compress))
    case .prune: self = .prune(try c.decode(PruningSettings.self, forKey: .prune))
    case .quantize: self = .quantize(try c.decode(QuantizationStage.self, forKey: .quantize).settings)
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Kind.self)
    switch self {
    case .compress(let settings): try c.encode(settings, forKey: .compress)
    case .prune(let settings): try c.encode(settings, forKey: .prune)
    case .quantize(let settings): try c.encode(QuantizationStage(settings: settings), forKey: .quantize)
    }
  }

  /// A short name for labels: `svd 2×`, `ae-shared 1.5× ffn`, `structured 50%`, `int8`.
  public var summary: String {
    func scope(_ targets: [CompressionTarget]) -> String {
      Set(targets) == Set(CompressionTarget.allCases) ? "" : " " + targets.map(\.rawValue).joined(separator: "+")
    }
    switch self {
    case .compress(let s):
      return "\(s.method.rawValue)\(s.decoder == .linear ? "" : " " + s.decoder.rawValue) \(formatRatio(s.ratio))×\(s.method.compressesEmbedding ? "" : scope(s.targets))"
    case .prune(let s):
      let share = String(format: "%g%%", (s.sparsity * 1000).rounded() / 10)
      return "\(s.method.rawValue) \(share)\(s.method == .magnitude && s.scope == .layer ? " per layer" : "")\(scope(s.targets))"
    case .quantize(let s):
      return s.scheme.rawValue + (s.keepFP32.isEmpty ? "" : " (fp32: \(s.keepFP32.joined(separator: ", ")))")
    }
  }

  /// `model` after the stage: changed in place, or a new, smaller model
  /// (structured pruning). See ``CompressionSettings/apply(to:calibration:progress:)``.
  public func applied(to model: any Seq2SeqModel, calibration: TokenizedExamples?) throws -> any Seq2SeqModel {
    if let scheme = ModelQuantization.scheme(of: model) { throw TransformError.afterQuantization(scheme: scheme.rawValue) }
    switch self {
    case .compress(let settings): try settings.apply(to: model, calibration: calibration)
    case .prune(let settings): return try settings.applied(to: model)
    case .quantize(let settings): try ModelQuantization.quantize(model, settings: settings)
    }
    return model
  }

  /// The chains of a `compare --transforms` file: a JSON list of chains, each
  /// a list of stages. Errors name the file and the field (`[1][0].compress.ratio`).
  public static func readChains(from url: URL) throws -> [[TransformStage]] {
    let value: JSONValue
    do { value = try JSONValue.parse(RecipeFile.read(url)) } catch let error as RecipeError { throw error } catch {
      throw RecipeError(file: url.path, reason: "invalid JSON at \(error)")
    }
    let chains: [[TransformStage]]
    do { chains = try StrictJSON.decode([[TransformStage]].self, from: value) } catch let error as JSONFieldError {
      throw RecipeError(file: url.path, reason: error.description + " (expected a list of chains, each a list of stages)")
    }
    guard !chains.isEmpty else { throw RecipeError(file: url.path, reason: "lists no chains") }
    for (index, chain) in chains.enumerated() {
      do { try validate(chain) } catch { throw RecipeError(file: url.path, reason: "chain \(index + 1): \(error)") }
    }
    return chains
  }

  /// Checks that `chain` can run: at least one stage, quantization only last.
  public static func validate(_ chain: [TransformStage]) throws {
    guard !chain.isEmpty else { throw TransformError.emptyChain }
    if let index = chain.dropLast().firstIndex(where: { if case .quantize = $0 { true } else { false } }) {
      throw TransformError.stageAfterQuantization(index: index + 1)
    }
  }
}

/// `{"scheme": "int8", "keep_fp32": [...]}`: a quantize stage's settings.
private struct QuantizationStage: Codable {
  var settings: QuantizationSettings

  init(settings: QuantizationSettings) { self.settings = settings }

  enum CodingKeys: String, CodingKey, CaseIterable { case scheme, keepFP32 = "keep_fp32" }

  init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    settings = QuantizationSettings(
      scheme: try c.decode(QuantizationScheme.self, forKey: .scheme),
      keepFP32: try c.decodeIfPresent([String].self, forKey: .keepFP32) ?? [])
  }

  func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(settings.scheme, forKey: .scheme)
    if !settings.keepFP32.isEmpty { try c.encode(settings.keepFP32, forKey: .keepFP32) }
  }
}

/// A transform that cannot run on the model it was given.
public enum TransformError: Error, CustomStringConvertible, Equatable {
  case noTargetLayers(targets: String)
  case afterQuantization(scheme: String)
  case emptyChain
  case stageAfterQuantization(index: Int)

  public var description: String {
    switch self {
    case .noTargetLayers(let targets): "the model has no dense \(targets) layers left to compress or prune"
    case .afterQuantization(let scheme): "the model is quantized (\(scheme)); transforms come before quantization"
    case .emptyChain: "a transform chain needs at least one stage"
    case .stageAfterQuantization(let index): "stage \(index) quantizes, but stages follow it; quantization must come last"
    }
  }
}
