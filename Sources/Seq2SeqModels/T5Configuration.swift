import Foundation
import NeuralLayers

/// A T5 `config.json` (v1.0, v1.1, flan-t5 and mT5). Missing fields take the
/// reference defaults of the `model_type` (`t5` or `mt5`).
public struct T5Configuration: Codable, Sendable, Equatable {
  public var vocabSize = 32128
  public var dModel = 512
  public var dKv = 64
  public var dFf = 2048
  public var numLayers = 6
  public var numDecoderLayers: Int?
  public var numHeads = 8
  public var relativeAttentionNumBuckets = 32
  public var relativeAttentionMaxDistance = 128
  public var dropoutRate: Float = 0.1
  public var layerNormEpsilon: Float = 1e-6
  public var initializerFactor: Float = 1
  public var feedForwardProj = "relu"
  public var tieWordEmbeddings = true
  /// Whether the decoder output is rescaled by `d_model^-0.5` before the head;
  /// nil follows `tie_word_embeddings` (older configurations have no such key).
  public var scaleDecoderOutputs: Bool?
  public var padTokenId = 0
  public var eosTokenId = 1
  public var decoderStartTokenId = 0
  public var modelType = "t5"

  public init() {}

  enum CodingKeys: String, CodingKey {
    case vocabSize = "vocab_size", dModel = "d_model", dKv = "d_kv", dFf = "d_ff", numLayers = "num_layers"
    case numDecoderLayers = "num_decoder_layers", numHeads = "num_heads"
    case relativeAttentionNumBuckets = "relative_attention_num_buckets"
    case relativeAttentionMaxDistance = "relative_attention_max_distance"
    case dropoutRate = "dropout_rate", layerNormEpsilon = "layer_norm_epsilon"
    case initializerFactor = "initializer_factor", feedForwardProj = "feed_forward_proj"
    case tieWordEmbeddings = "tie_word_embeddings", scaleDecoderOutputs = "scale_decoder_outputs", padTokenId = "pad_token_id", eosTokenId = "eos_token_id"
    case decoderStartTokenId = "decoder_start_token_id", modelType = "model_type"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let type = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "t5"
    let d = type == "mt5" ? T5Configuration.mt5Defaults : T5Configuration.defaults
    vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
    dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? d.dModel
    dKv = try c.decodeIfPresent(Int.self, forKey: .dKv) ?? d.dKv
    dFf = try c.decodeIfPresent(Int.self, forKey: .dFf) ?? d.dFf
    numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
    numDecoderLayers = try c.decodeIfPresent(Int.self, forKey: .numDecoderLayers)
    numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
    relativeAttentionNumBuckets = try c.decodeIfPresent(Int.self, forKey: .relativeAttentionNumBuckets) ?? d.relativeAttentionNumBuckets
    relativeAttentionMaxDistance = try c.decodeIfPresent(Int.self, forKey: .relativeAttentionMaxDistance) ?? d.relativeAttentionMaxDistance
    dropoutRate = try c.decodeIfPresent(Float.self, forKey: .dropoutRate) ?? d.dropoutRate
    layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
    initializerFactor = try c.decodeIfPresent(Float.self, forKey: .initializerFactor) ?? d.initializerFactor
    feedForwardProj = try c.decodeIfPresent(String.self, forKey: .feedForwardProj) ?? d.feedForwardProj
    tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? d.tieWordEmbeddings
    scaleDecoderOutputs = try c.decodeIfPresent(Bool.self, forKey: .scaleDecoderOutputs)
    padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? d.padTokenId
    eosTokenId = try T5Configuration.decodeTokenID(c, .eosTokenId) ?? d.eosTokenId
    decoderStartTokenId = try c.decodeIfPresent(Int.self, forKey: .decoderStartTokenId) ?? d.decoderStartTokenId
    modelType = type
    try validate(c)
  }

  private static let defaults = T5Configuration()

  /// `MT5Config`'s defaults (mt5-small's shape, gated GELU, untied head).
  private static let mt5Defaults: T5Configuration = {
    var config = T5Configuration()
    (config.vocabSize, config.dFf, config.numLayers, config.numHeads) = (250112, 1024, 8, 6)
    (config.feedForwardProj, config.tieWordEmbeddings, config.modelType) = ("gated-gelu", false, "mt5")
    return config
  }()

  /// The model types this configuration reads.
  static let modelTypes = ["t5", "mt5"]

  /// `eos_token_id` may be an integer or a list (the first is used).
  static func decodeTokenID(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int? {
    if let list = try? c.decodeIfPresent([Int].self, forKey: key) { return list.first }
    return try c.decodeIfPresent(Int.self, forKey: key)
  }

  private func validate(_ c: KeyedDecodingContainer<CodingKeys>) throws {
    guard T5Configuration.modelTypes.contains(modelType) else {
      throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "expected 't5' or 'mt5', got '\(modelType)'")
    }
    _ = try feedForward(codingPath: c.codingPath)
    do { try validate() } catch let error as ConfigurationError { throw error.decodingError(codingPath: c.codingPath) }
  }

  /// Checks every value a model is built from: sizes positive and small
  /// enough for this machine's memory, token ids inside the vocabulary, a
  /// positive epsilon, and relative-position buckets the bucketing can use.
  public func validate() throws {
    typealias Check = ConfigurationChecks
    for (value, key) in [(vocabSize, CodingKeys.vocabSize), (dModel, .dModel), (dKv, .dKv), (dFf, .dFf), (numHeads, .numHeads),
                         (relativeAttentionNumBuckets, .relativeAttentionNumBuckets),
                         (relativeAttentionMaxDistance, .relativeAttentionMaxDistance)] {
      try Check.positive(value, key.rawValue)
    }
    try Check.nonNegative(numLayers, CodingKeys.numLayers.rawValue)
    try Check.nonNegative(decoderDepth, CodingKeys.numDecoderLayers.rawValue)
    // The encoder's buckets split by sign and then into exact and logarithmic
    // halves; each part needs a bucket, and the logarithmic range must grow.
    guard relativeAttentionNumBuckets >= 4 else {
      throw ConfigurationError(field: CodingKeys.relativeAttentionNumBuckets.rawValue, reason: "must be at least 4, got \(relativeAttentionNumBuckets)")
    }
    guard relativeAttentionMaxDistance > relativeAttentionNumBuckets / 2 else {
      throw ConfigurationError(
        field: CodingKeys.relativeAttentionMaxDistance.rawValue,
        reason: "must exceed half of relative_attention_num_buckets (\(relativeAttentionNumBuckets)), got \(relativeAttentionMaxDistance)")
    }
    try Check.positive(layerNormEpsilon, CodingKeys.layerNormEpsilon.rawValue)
    try Check.probability(dropoutRate, CodingKeys.dropoutRate.rawValue)
    try Check.finiteNonNegative(initializerFactor, CodingKeys.initializerFactor.rawValue)
    for (id, key) in [(padTokenId, CodingKeys.padTokenId), (eosTokenId, .eosTokenId), (decoderStartTokenId, .decoderStartTokenId)] {
      try Check.tokenID(id, key.rawValue, vocabularySize: vocabSize)
    }
    let usual = T5Configuration.defaults
    try Check.fitsInMemory(parameterCount: parameterCount, sizes: [
      (CodingKeys.vocabSize.rawValue, vocabSize, usual.vocabSize), (CodingKeys.dModel.rawValue, dModel, usual.dModel),
      (CodingKeys.dKv.rawValue, dKv, usual.dKv), (CodingKeys.dFf.rawValue, dFf, usual.dFf),
      (CodingKeys.numHeads.rawValue, numHeads, usual.numHeads), (CodingKeys.numLayers.rawValue, numLayers, usual.numLayers),
      (CodingKeys.numDecoderLayers.rawValue, decoderDepth, usual.numLayers),
      (CodingKeys.relativeAttentionNumBuckets.rawValue, relativeAttentionNumBuckets, usual.relativeAttentionNumBuckets),
    ])
  }

  /// The number of weights a model with this configuration has (as a
  /// `Double`, so that absurd sizes cannot overflow).
  public var parameterCount: Double {
    let (width, inner, hidden) = (Double(dModel), Double(numHeads) * Double(dKv), Double(dFf))
    let isGated = (try? feedForward())?.isGated ?? false
    let attention = 4 * width * inner
    let feedForward = (isGated ? 3 : 2) * width * hidden
    let encoderLayer = attention + feedForward + 2 * width
    let decoderLayer = 2 * attention + feedForward + 3 * width
    let embedding = Double(vocabSize) * width
    let positionBias = 2 * Double(relativeAttentionNumBuckets) * Double(numHeads)
    return embedding * (tieWordEmbeddings ? 1 : 2) + Double(numLayers) * encoderLayer + Double(decoderDepth) * decoderLayer
      + positionBias + 2 * width
  }

  /// Whether logits come from `d_model^-0.5 ·` the decoder output. The
  /// reference's mT5 never rescales (it reads no such key).
  public var rescalesDecoderOutput: Bool { modelType == "mt5" ? false : scaleDecoderOutputs ?? tieWordEmbeddings }

  /// The decoder depth (`num_decoder_layers`, defaulting to `num_layers`).
  public var decoderDepth: Int { numDecoderLayers ?? numLayers }

  /// The activation and gating named by `feed_forward_proj` (`relu`, `gated-gelu`, …).
  public func feedForward(codingPath: [CodingKey] = []) throws -> (activation: FeedForwardActivation, isGated: Bool) {
    let parts = feedForwardProj.split(separator: "-").map(String.init)
    let isGated = parts.count == 2 && parts[0] == "gated"
    let name = parts.last ?? ""
    guard parts.count == 1 || isGated, let activation = FeedForwardActivation(rawValue: name) else {
      throw DecodingError.dataCorrupted(.init(
        codingPath: codingPath + [CodingKeys.feedForwardProj],
        debugDescription: "unknown feed_forward_proj '\(feedForwardProj)'; expected relu, gelu, gated-gelu or gated-silu"))
    }
    // The reference maps "gated-gelu" to the tanh approximation.
    return (isGated && activation == .gelu ? .geluNew : activation, isGated)
  }
}
