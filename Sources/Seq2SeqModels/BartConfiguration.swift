import Foundation
import NeuralLayers

/// A BART `config.json`. Missing fields take the reference defaults.
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
    guard let parsed = FeedForwardActivation(rawValue: activation) else {
      throw DecodingError.dataCorruptedError(
        forKey: .activationFunction, in: c, debugDescription: "unknown activation_function '\(activation)'")
    }
    activationFunction = parsed
    dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? d.dModel
    dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
    initStd = try c.decodeIfPresent(Float.self, forKey: .initStd) ?? d.initStd
    scaleEmbedding = try c.decodeIfPresent(Bool.self, forKey: .scaleEmbedding) ?? d.scaleEmbedding
    padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? d.padTokenId
    bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId) ?? d.bosTokenId
    eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? d.eosTokenId
    decoderStartTokenId = try c.decodeIfPresent(Int.self, forKey: .decoderStartTokenId) ?? d.decoderStartTokenId
    forcedBosTokenId = try c.decodeIfPresent(Int.self, forKey: .forcedBosTokenId)
    forcedEosTokenId = try c.decodeIfPresent(Int.self, forKey: .forcedEosTokenId)
    tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? d.tieWordEmbeddings
    modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType
    for (value, key) in [(vocabSize, CodingKeys.vocabSize), (dModel, .dModel), (encoderAttentionHeads, .encoderAttentionHeads),
                         (decoderAttentionHeads, .decoderAttentionHeads), (maxPositionEmbeddings, .maxPositionEmbeddings)] where value <= 0 {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be positive, got \(value)")
    }
    for (heads, key) in [(encoderAttentionHeads, CodingKeys.encoderAttentionHeads), (decoderAttentionHeads, .decoderAttentionHeads)]
    where dModel % heads != 0 {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "d_model \(dModel) is not divisible by \(heads) heads")
    }
    guard modelType == "bart" else {
      throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "expected 'bart', got '\(modelType)'")
    }
    guard tieWordEmbeddings else {
      throw DecodingError.dataCorruptedError(forKey: .tieWordEmbeddings, in: c, debugDescription: "untied BART heads are not supported")
    }
  }
}
