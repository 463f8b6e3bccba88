import Foundation
import NeuralLayers

/// A BART or mBART `config.json` (`model_type` `bart` or `mbart`; mBART's
/// layers are pre-norm and each stack ends in a layer norm). Missing fields
/// take the reference defaults.
public struct BartConfiguration: Codable, Sendable, Equatable {
  public var vocabSize = 50265
  public var maxPositionEmbeddings = 1024
  public var encoderLayers = 12
  public var encoderFfnDim = 4096
  public var encoderAttentionHeads = 16
  public var decoderLayers = 12
  public var decoderFfnDim = 4096
  public var decoderAttentionHeads = 16
  public var activationFunction = FeedForwardActivation.gelu
  public var dModel = 1024
  public var dropout: Float = 0.1
  public var initStd: Float = 0.02
  public var scaleEmbedding = false
  public var padTokenId = 1
  public var bosTokenId = 0
  public var eosTokenId = 2
  public var decoderStartTokenId = 2
  public var forcedBosTokenId: Int?
  public var forcedEosTokenId: Int?
  public var tieWordEmbeddings = true
  public var modelType = "bart"

  public init() {}

  enum CodingKeys: String, CodingKey {
    case vocabSize = "vocab_size", maxPositionEmbeddings = "max_position_embeddings"
    case encoderLayers = "encoder_layers", encoderFfnDim = "encoder_ffn_dim", encoderAttentionHeads = "encoder_attention_heads"
    case decoderLayers = "decoder_layers", decoderFfnDim = "decoder_ffn_dim", decoderAttentionHeads = "decoder_attention_heads"
    case activationFunction = "activation_function", dModel = "d_model", dropout, initStd = "init_std"
    case scaleEmbedding = "scale_embedding", padTokenId = "pad_token_id", bosTokenId = "bos_token_id"
    case eosTokenId = "eos_token_id", decoderStartTokenId = "decoder_start_token_id"
    case forcedBosTokenId = "forced_bos_token_id", forcedEosTokenId = "forced_eos_token_id"
    case tieWordEmbeddings = "tie_word_embeddings", modelType = "model_type"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = BartConfiguration()
    vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
    maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
    encoderLayers = try c.decodeIfPresent(Int.self, forKey: .encoderLayers) ?? d.encoderLayers
    encoderFfnDim = try c.decodeIfPresent(Int.self, forKey: .encoderFfnDim) ?? d.encoderFfnDim
    encoderAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .encoderAttentionHeads) ?? d.encoderAttentionHeads
    decoderLayers = try c.decodeIfPresent(Int.self, forKey: .decoderLayers) ?? d.decoderLayers
    decoderFfnDim = try c.decodeIfPresent(Int.self, forKey: .decoderFfnDim) ?? d.decoderFfnDim
    decoderAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .decoderAttentionHeads) ?? d.decoderAttentionHeads
    let activation = try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? "gelu"
    // The reference's activation table names SiLU "swish" too.
    guard let parsed = FeedForwardActivation(rawValue: activation == "swish" ? "silu" : activation) else {
      throw DecodingError.dataCorruptedError(
        forKey: .activationFunction, in: c,
        debugDescription: "unknown activation_function '\(activation)'; expected gelu, gelu_new, relu, silu or swish")
    }
    activationFunction = parsed
    dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? d.dModel
    dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
    initStd = try c.decodeIfPresent(Float.self, forKey: .initStd) ?? d.initStd
    scaleEmbedding = try c.decodeIfPresent(Bool.self, forKey: .scaleEmbedding) ?? d.scaleEmbedding
    padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? d.padTokenId
    bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId) ?? d.bosTokenId
    eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? d.eosTokenId
    let type = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType
    // MBartConfig has no decoder start default; generation then starts with bos.
    decoderStartTokenId = try c.decodeIfPresent(Int.self, forKey: .decoderStartTokenId) ?? (type == "mbart" ? bosTokenId : d.decoderStartTokenId)
    forcedBosTokenId = try c.decodeIfPresent(Int.self, forKey: .forcedBosTokenId)
    forcedEosTokenId = try c.decodeIfPresent(Int.self, forKey: .forcedEosTokenId)
    tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? d.tieWordEmbeddings
    modelType = type
    guard ["bart", "mbart"].contains(modelType) else {
      throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "expected 'bart' or 'mbart', got '\(modelType)'")
    }
    do { try validate() } catch let error as ConfigurationError { throw error.decodingError(codingPath: c.codingPath) }
  }

  /// Checks every value a model is built from: sizes positive and small
  /// enough for this machine's memory, heads dividing `d_model`, and token ids
  /// inside the vocabulary.
  public func validate() throws {
    typealias Check = ConfigurationChecks
    for (value, key) in [(vocabSize, CodingKeys.vocabSize), (dModel, .dModel), (encoderAttentionHeads, .encoderAttentionHeads),
                         (decoderAttentionHeads, .decoderAttentionHeads), (encoderFfnDim, .encoderFfnDim),
                         (decoderFfnDim, .decoderFfnDim), (maxPositionEmbeddings, .maxPositionEmbeddings)] {
      try Check.positive(value, key.rawValue)
    }
    try Check.nonNegative(encoderLayers, CodingKeys.encoderLayers.rawValue)
    try Check.nonNegative(decoderLayers, CodingKeys.decoderLayers.rawValue)
    for (heads, key) in [(encoderAttentionHeads, CodingKeys.encoderAttentionHeads), (decoderAttentionHeads, .decoderAttentionHeads)]
    where dModel % heads != 0 {
      throw ConfigurationError(field: key.rawValue, reason: "d_model \(dModel) is not divisible by \(heads) heads")
    }
    try Check.probability(dropout, CodingKeys.dropout.rawValue)
    try Check.finiteNonNegative(initStd, CodingKeys.initStd.rawValue)
    for (id, key) in [(padTokenId, CodingKeys.padTokenId), (bosTokenId, .bosTokenId), (eosTokenId, .eosTokenId),
                      (decoderStartTokenId, .decoderStartTokenId), (forcedBosTokenId, .forcedBosTokenId),
                      (forcedEosTokenId, .forcedEosTokenId)] {
      try Check.tokenID(id, key.rawValue, vocabularySize: vocabSize)
    }
    let usual = BartConfiguration()
    try Check.fitsInMemory(parameterCount: parameterCount, sizes: [
      (CodingKeys.vocabSize.rawValue, vocabSize, usual.vocabSize), (CodingKeys.dModel.rawValue, dModel, usual.dModel),
      (CodingKeys.maxPositionEmbeddings.rawValue, maxPositionEmbeddings, usual.maxPositionEmbeddings),
      (CodingKeys.encoderLayers.rawValue, encoderLayers, usual.encoderLayers),
      (CodingKeys.decoderLayers.rawValue, decoderLayers, usual.decoderLayers),
      (CodingKeys.encoderFfnDim.rawValue, encoderFfnDim, usual.encoderFfnDim),
      (CodingKeys.decoderFfnDim.rawValue, decoderFfnDim, usual.decoderFfnDim),
    ])
  }

  /// mBART: every sublayer normalises its input, and each stack ends in a layer norm.
  public var isPreNorm: Bool { modelType == "mbart" }

  /// The number of weights a model with this configuration has (as a
  /// `Double`, so that absurd sizes cannot overflow).
  public var parameterCount: Double {
    let width = Double(dModel)
    let attention = 4 * width * width + 4 * width
    func feedForward(_ hidden: Int) -> Double { 2 * width * Double(hidden) + Double(hidden) + width }
    let encoderLayer = attention + feedForward(encoderFfnDim) + 4 * width
    let decoderLayer = 2 * attention + feedForward(decoderFfnDim) + 6 * width
    let positions = 2 * Double(maxPositionEmbeddings + BartStack.positionOffset) * width + (isPreNorm ? 8 : 4) * width
    let head = tieWordEmbeddings ? 0 : Double(vocabSize) * width
    return Double(vocabSize) * (width + 1) + head + Double(encoderLayers) * encoderLayer + Double(decoderLayers) * decoderLayer + positions
  }
}
