import Foundation
import NeuralLayers
import TensorCore

/// One T5 layer: pre-norm self-attention, cross-attention (decoder) and feed-forward.
final class T5Block: TransformerBlock {
  let selfAttention: MultiHeadAttention
  let selfNorm: RMSNorm
  let crossAttention: MultiHeadAttention?
  let crossNorm: RMSNorm?
  let feedForward: FeedForward
  let feedForwardNorm: RMSNorm
  let configuration: T5Configuration

  init(_ config: T5Configuration, isDecoder: Bool, using generator: inout SeededRandom) {
    configuration = config
    let (activation, isGated) = (try? config.feedForward()) ?? (.relu, false)
    func attention(_ generator: inout SeededRandom) -> MultiHeadAttention {
      MultiHeadAttention(
        modelWidth: config.dModel, heads: config.numHeads, headWidth: config.dKv, hasBias: false, scaleScores: false,
        projectionNames: ["q", "k", "v", "o"], using: &generator)
    }
    selfAttention = attention(&generator)
    selfNorm = RMSNorm(width: config.dModel, epsilon: config.layerNormEpsilon)
    crossAttention = isDecoder ? attention(&generator) : nil
    crossNorm = isDecoder ? RMSNorm(width: config.dModel, epsilon: config.layerNormEpsilon) : nil
    feedForward = FeedForward(
      modelWidth: config.dModel, hiddenWidth: config.dFf, activation: activation, isGated: isGated, hasBias: false,
      names: isGated ? ["wi_0", "wi_1", "wo"] : ["wi", "wo"], using: &generator)
    feedForwardNorm = RMSNorm(width: config.dModel, epsilon: config.layerNormEpsilon)
  }

  func callAsFunction(_ hidden: Tensor, context: BlockContext, cache: BlockCache?, taps: AttentionTaps?) -> Tensor {
    let drop = context.dropout ?? { $0 }
    var h = hidden + drop(selfAttention(
      selfNorm(hidden), bias: context.selfBias, cache: cache?.selfAttention, probabilityTap: taps?.selfAttention))
    if let crossAttention, let crossNorm, let memory = context.memory {
      h = h + drop(crossAttention(
        crossNorm(h), source: memory, bias: context.memoryBias, cache: cache?.crossAttention, isCrossAttention: true,
        probabilityTap: taps?.crossAttention))
    }
    return h + drop(feedForward(feedForwardNorm(h), dropout: context.dropout))
  }

  func copy() -> any TransformerBlock {
    var generator = SeededRandom(seed: 0)
    return copyWeights(into: T5Block(configuration, isDecoder: crossAttention != nil, using: &generator))
  }

  func namedParameters() -> [(key: String, parameter: Parameter)] {
    var keys = joinKeys("layer.0.SelfAttention", selfAttention.namedParameters())
      + joinKeys("layer.0.layer_norm", selfNorm.namedParameters())
    var next = 1
    if let crossAttention, let crossNorm {
      keys += joinKeys("layer.1.EncDecAttention", crossAttention.namedParameters())
        + joinKeys("layer.1.layer_norm", crossNorm.namedParameters())
      next = 2
    }
    return keys + joinKeys("layer.\(next).DenseReluDense", feedForward.namedParameters())
      + joinKeys("layer.\(next).layer_norm", feedForwardNorm.namedParameters())
  }
}

/// A T5 encoder or decoder: shared embedding, blocks, one relative position
/// bias for the whole stack (a checkpoint keeps it in block 0), final norm.
final class T5Stack: LayerStack {
  let role: StackRole
  var blocks: [any TransformerBlock]
  let embedding: Embedding
  let positionBias: RelativePositionBias
  let finalNorm: RMSNorm
  let configuration: T5Configuration

  init(_ config: T5Configuration, role: StackRole, embedding: Embedding, using generator: inout SeededRandom) {
    self.role = role
    self.embedding = embedding
    configuration = config
    let depth = role == .encoder ? config.numLayers : config.decoderDepth
    blocks = (0..<depth).map { _ in T5Block(config, isDecoder: role == .decoder, using: &generator) }
    positionBias = RelativePositionBias(
      bucketCount: config.relativeAttentionNumBuckets, maxDistance: config.relativeAttentionMaxDistance,
      heads: config.numHeads, isBidirectional: role == .encoder, using: &generator)
    finalNorm = RMSNorm(width: config.dModel, epsilon: config.layerNormEpsilon)
  }

  func embed(_ ids: [Int], batch: Int, length: Int, pastLength: Int, dropout: ((Tensor) -> Tensor)?) -> Tensor {
    let embedded = embedding(ids, shape: [batch, length])
    return dropout?(embedded) ?? embedded
  }

  func context(
    batch: Int, queries: Int, pastLength: Int, keyKeep: [Float]?, memory: Tensor?, memoryKeep: [Float]?,
    dropout: ((Tensor) -> Tensor)?
  ) -> BlockContext {
    let bias = positionBias(queries: queries, keys: pastLength + queries, queryOffset: pastLength)
    let (mask, memoryBias) = standardMasks(batch: batch, queries: queries, pastLength: pastLength, keyKeep: keyKeep, memoryKeep: memoryKeep)
    let selfBias = mask.map { bias + $0 } ?? bias
    return BlockContext(selfBias: selfBias, memory: memory, memoryBias: memoryBias, dropout: dropout)
  }

  func finish(_ hidden: Tensor, dropout: ((Tensor) -> Tensor)?) -> Tensor {
    let normed = finalNorm(hidden)
    return dropout?(normed) ?? normed
  }

  func makeBlock(using generator: inout SeededRandom) -> any TransformerBlock {
    T5Block(configuration, isDecoder: role == .decoder, using: &generator)
  }

  func namedParameters() -> [(key: String, parameter: Parameter)] {
    blocks.enumerated().flatMap { joinKeys("block.\($0.offset)", $0.element.namedParameters()) }
      + joinKeys("relative_attention_bias", positionBias.namedParameters())
      + joinKeys("final_layer_norm", finalNorm.namedParameters())
  }
}

/// T5 for conditional generation (v1.0: ReLU, tied head; v1.1: gated GELU, untied head).
public final class T5Model: Seq2SeqModel {
  public private(set) var configuration: T5Configuration
  let shared: Embedding
  let t5Encoder: T5Stack
  let t5Decoder: T5Stack
  let head: Linear?

  public init(_ config: T5Configuration, using generator: inout SeededRandom) {
    configuration = config
    let std = config.initializerFactor
    shared = Embedding(count: config.vocabSize, width: config.dModel, std: std, using: &generator)
    t5Encoder = T5Stack(config, role: .encoder, embedding: shared, using: &generator)
    t5Decoder = T5Stack(config, role: .decoder, embedding: shared, using: &generator)
    head = config.tieWordEmbeddings ? nil : Linear(inputSize: config.dModel, outputSize: config.vocabSize, hasBias: false, using: &generator)
  }

  public var modelType: String { "t5" }
  public var encoder: any LayerStack { t5Encoder }
  public var decoder: any LayerStack { t5Decoder }
  public var vocabularySize: Int { configuration.vocabSize }
  public var modelWidth: Int { configuration.dModel }
  public var dropoutRate: Float { configuration.dropoutRate }
  public var specialTokens: SpecialTokenIDs {
    SpecialTokenIDs(pad: configuration.padTokenId, eos: configuration.eosTokenId, decoderStart: configuration.decoderStartTokenId)
  }

  public func logits(_ decoderOutput: Tensor) -> Tensor {
    // v1.0 (tied) rescales by d_model^-0.5 before the head, as the reference does.
    let scaled = configuration.rescalesDecoderOutput ? decoderOutput.scaled(by: 1 / Float(configuration.dModel).squareRoot()) : decoderOutput
    return head.map { $0(scaled) } ?? scaled.matmul(shared.weight.value, transposeB: true)
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    joinKeys("shared", shared.namedParameters()) + joinKeys("encoder", t5Encoder.namedParameters())
      + joinKeys("decoder", t5Decoder.namedParameters()) + (head.map { joinKeys("lm_head", $0.namedParameters()) } ?? [])
  }

  public func configurationJSON() throws -> Data {
    var config = configuration
    config.numLayers = t5Encoder.blocks.count
    config.numDecoderLayers = t5Decoder.blocks.count
    config.scaleDecoderOutputs = config.rescalesDecoderOutput
    return try ModelConfigurationWriter.json(config, architecture: "T5ForConditionalGeneration", floatKeys: ["dropout_rate", "layer_norm_epsilon", "initializer_factor"])
  }

  public func checkpointTensors() -> [String: Tensor] {
    var tensors = stateDictionary()
    for stack in ["encoder", "decoder"] {
      let ours = "\(stack).relative_attention_bias.weight"
      tensors["\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = tensors.removeValue(forKey: ours)
      tensors["\(stack).embed_tokens.weight"] = tensors["shared.weight"]
    }
    if head == nil { tensors["lm_head.weight"] = tensors["shared.weight"] }
    return tensors
  }

  /// Maps reference checkpoint keys onto this model's keys: the relative
  /// position bias moves from block 0 to its stack; tied copies are dropped
  /// after checking they equal the shared embedding.
  static func sanitize(_ weights: [String: Tensor], configuration: T5Configuration, source: String) throws -> [String: Tensor] {
    var result = weights
    for stack in ["encoder", "decoder"] {
      let inBlock = "\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight"
      if let bias = result.removeValue(forKey: inBlock) { result["\(stack).relative_attention_bias.weight"] = bias }
      try ModelLoading.dropTiedCopy(&result, key: "\(stack).embed_tokens.weight", of: "shared.weight", source: source)
    }
    if configuration.tieWordEmbeddings {
      try ModelLoading.dropTiedCopy(&result, key: "lm_head.weight", of: "shared.weight", source: source)
    }
    return result
  }
}

