import Foundation
import NeuralLayers
import TensorCore

/// One T5 layer: pre-norm self-attention, cross-attention (decoder) and feed-forward.
final class T5Block: TransformerBlock, LayerTree {
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

  /// Checkpoint key of the self-attention, which holds the relative position bias in block 0.
  static let selfAttentionKey = "layer.0.SelfAttention"

  var sublayers: [(key: String, layer: any ParameterContainer)] {
    var layers: [(key: String, layer: any ParameterContainer)] = [
      (T5Block.selfAttentionKey, selfAttention), ("layer.0.layer_norm", selfNorm),
    ]
    if let crossAttention, let crossNorm {
      layers += [("layer.1.EncDecAttention", crossAttention), ("layer.1.layer_norm", crossNorm)]
    }
    let next = layers.count / 2
    return layers + [("layer.\(next).DenseReluDense", feedForward), ("layer.\(next).layer_norm", feedForwardNorm)]
  }

  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}

/// A T5 encoder or decoder: shared embedding, blocks, one relative position
/// bias for the whole stack (a checkpoint keeps it in block 0), final norm.
final class T5Stack: LayerStack, LayerTree {
  let role: StackRole
  var blocks: [any TransformerBlock]
  let embedding: Embedding
  /// Where this model keeps the bias; a reference checkpoint keeps it in block 0 (``checkpointPositionBiasKey``).
  static let positionBiasKey = "relative_attention_bias"
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

  /// Checkpoint key of block `index`.
  static func blockKey(_ index: Int) -> String { "block.\(index)" }
  /// The reference checkpoint's key of the stack's position bias, inside block 0.
  static let checkpointPositionBiasKey = "\(blockKey(0)).\(T5Block.selfAttentionKey).\(positionBiasKey)"
  /// The reference checkpoint's key of the stack's tied copy of the shared embedding.
  static let embeddingCopyKey = "embed_tokens"

  var sublayers: [(key: String, layer: any ParameterContainer)] {
    blocks.enumerated().map { (T5Stack.blockKey($0.offset), $0.element as any ParameterContainer) }
      + [(T5Stack.positionBiasKey, positionBias), ("final_layer_norm", finalNorm)]
  }

  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}

/// T5 for conditional generation (v1.0: ReLU, tied head; v1.1: gated GELU, untied head).
public final class T5Model: Seq2SeqModel, LayerTree {
  public private(set) var configuration: T5Configuration
  static let sharedKey = "shared"
  let shared: Embedding
  static let encoderKey = "encoder"
  let t5Encoder: T5Stack
  static let decoderKey = "decoder"
  let t5Decoder: T5Stack
  /// The untied output head (v1.1); nil when logits reuse the shared embedding.
  static let headKey = "lm_head"
  var head: (any LinearLayer)?

  public init(_ config: T5Configuration, using generator: inout SeededRandom) {
    configuration = config
    let std = config.initializerFactor
    shared = Embedding(count: config.vocabSize, width: config.dModel, std: std, using: &generator)
    t5Encoder = T5Stack(config, role: .encoder, embedding: shared, using: &generator)
    t5Decoder = T5Stack(config, role: .decoder, embedding: shared, using: &generator)
    head = config.tieWordEmbeddings ? nil : Linear(inputSize: config.dModel, outputSize: config.vocabSize, hasBias: false, using: &generator)
  }

  public var modelType: String { configuration.modelType }
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
    // A tied head is the shared table used as a linear layer (the same parameter, so it trains as one).
    return head.map { $0(scaled) } ?? Linear(weight: shared.weight)(scaled)
  }

  public var sublayers: [(key: String, layer: any ParameterContainer)] {
    [(T5Model.sharedKey, shared), (T5Model.encoderKey, t5Encoder), (T5Model.decoderKey, t5Decoder)]
      + (head.map { [(T5Model.headKey, $0 as any ParameterContainer)] } ?? [])
  }

  public func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool {
    guard key == T5Model.headKey, head != nil else { return false }
    head = layer
    return true
  }

  public var positionLimit: Int? { nil }
  public var forcedTokenIDs: (bos: Int?, eos: Int?) { (nil, nil) }

  public func configurationJSON() throws -> Data { try configurationJSON(of: configuration) }

  /// T5 has one `num_heads` and one `d_ff` for both stacks (the head width `d_kv` stays).
  public func configurationJSON(resizedTo sizes: BlockSizes) throws -> Data {
    guard let heads = sizes.heads[.encoder], sizes.heads[.decoder] == heads,
      let width = sizes.feedForwardWidths[.encoder], sizes.feedForwardWidths[.decoder] == width
    else { throw StructuredPruningError.unsupported("T5's config.json has one num_heads and one d_ff for both stacks; got \(sizes)") }
    var config = configuration
    (config.numHeads, config.dFf) = (heads, width)
    return try configurationJSON(of: config)
  }

  private func configurationJSON(of base: T5Configuration) throws -> Data {
    var config = base
    config.numLayers = t5Encoder.blocks.count
    config.numDecoderLayers = t5Decoder.blocks.count
    config.scaleDecoderOutputs = config.rescalesDecoderOutput
    let architecture = config.modelType == "mt5" ? "MT5ForConditionalGeneration" : "T5ForConditionalGeneration"
    return try ModelConfigurationWriter.json(config, architecture: architecture, floatKeys: ["dropout_rate", "layer_norm_epsilon", "initializer_factor"])
  }

  /// The checkpoint keys of the shared embedding's tied copies (each stack's, and the head's when it is tied).
  var tiedCopyKeys: [String] {
    [T5Model.encoderKey, T5Model.decoderKey].map { "\($0).\(T5Stack.embeddingCopyKey).weight" }
      + (head == nil ? ["\(T5Model.headKey).weight"] : [])
  }

  public func checkpointTensors() -> [String: Tensor] {
    var tensors = LinearLayers.denseStateDictionary(of: self)
    for stack in [T5Model.encoderKey, T5Model.decoderKey] {
      let ours = "\(stack).\(T5Stack.positionBiasKey).weight"
      tensors["\(stack).\(T5Stack.checkpointPositionBiasKey).weight"] = tensors.removeValue(forKey: ours)
    }
    for key in tiedCopyKeys { tensors[key] = tensors["\(T5Model.sharedKey).weight"] }
    return tensors
  }

  /// Maps reference checkpoint keys onto this model's keys: the relative
  /// position bias moves from block 0 to its stack; tied copies are dropped
  /// after checking they equal the shared embedding. An untied head must be
  /// in the checkpoint (strict loading reports it missing by name).
  public func sanitize(weights: [String: Tensor], source: String) throws -> [String: Tensor] {
    var result = weights
    let sharedKey = "\(T5Model.sharedKey).weight"
    for stack in [T5Model.encoderKey, T5Model.decoderKey] {
      let inBlock = "\(stack).\(T5Stack.checkpointPositionBiasKey).weight"
      if let bias = result.removeValue(forKey: inBlock) { result["\(stack).\(T5Stack.positionBiasKey).weight"] = bias }
    }
    for key in tiedCopyKeys { try ModelLoading.dropTiedCopy(&result, key: key, of: sharedKey, source: source) }
    return result
  }
}
