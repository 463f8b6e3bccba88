import Foundation
import NeuralLayers
import TensorCore

/// One BART layer: self-attention, cross-attention (decoder) and feed-forward,
/// each post-norm (BART) or pre-norm (mBART).
final class BartBlock: TransformerBlock, LayerTree {
  let selfAttention: MultiHeadAttention
  let selfNorm: LayerNorm
  let crossAttention: MultiHeadAttention?
  let crossNorm: LayerNorm?
  let feedForward: FeedForward
  let finalNorm: LayerNorm
  let configuration: BartConfiguration
  let isDecoder: Bool

  init(_ config: BartConfiguration, isDecoder: Bool, using generator: inout SeededRandom) {
    configuration = config
    self.isDecoder = isDecoder
    let heads = isDecoder ? config.decoderAttentionHeads : config.encoderAttentionHeads
    func attention(_ generator: inout SeededRandom) -> MultiHeadAttention {
      MultiHeadAttention(
        modelWidth: config.dModel, heads: heads, headWidth: config.dModel / heads, hasBias: true, scaleScores: true,
        projectionNames: ["q_proj", "k_proj", "v_proj", "out_proj"], using: &generator)
    }
    selfAttention = attention(&generator)
    selfNorm = LayerNorm(width: config.dModel)
    crossAttention = isDecoder ? attention(&generator) : nil
    crossNorm = isDecoder ? LayerNorm(width: config.dModel) : nil
    feedForward = FeedForward(
      modelWidth: config.dModel, hiddenWidth: isDecoder ? config.decoderFfnDim : config.encoderFfnDim,
      activation: config.activationFunction, isGated: false, hasBias: true, names: ["fc1", "fc2"], using: &generator)
    finalNorm = LayerNorm(width: config.dModel)
  }

  func callAsFunction(_ hidden: Tensor, context: BlockContext, cache: BlockCache?, taps: AttentionTaps?) -> Tensor {
    let drop = context.dropout ?? { $0 }
    // Post-norm: norm(x + f(x)); pre-norm: x + f(norm(x)).
    let isPreNorm = configuration.isPreNorm
    func sublayer(_ x: Tensor, _ norm: LayerNorm, _ f: (Tensor) -> Tensor) -> Tensor {
      isPreNorm ? x + drop(f(norm(x))) : norm(x + drop(f(x)))
    }
    var h = sublayer(hidden, selfNorm) {
      selfAttention($0, bias: context.selfBias, cache: cache?.selfAttention, probabilityTap: taps?.selfAttention)
    }
    if let crossAttention, let crossNorm, let memory = context.memory {
      h = sublayer(h, crossNorm) {
        crossAttention(
          $0, source: memory, bias: context.memoryBias, cache: cache?.crossAttention, isCrossAttention: true,
          probabilityTap: taps?.crossAttention)
      }
    }
    return sublayer(h, finalNorm) { feedForward($0) }
  }

  func copy() -> any TransformerBlock {
    var generator = SeededRandom(seed: 0)
    return copyWeights(into: BartBlock(configuration, isDecoder: isDecoder, using: &generator))
  }

  var sublayers: [(key: String, layer: any ParameterContainer)] {
    var layers: [(key: String, layer: any ParameterContainer)] = [("self_attn", selfAttention), ("self_attn_layer_norm", selfNorm)]
    if let crossAttention, let crossNorm {
      layers += [("encoder_attn", crossAttention), ("encoder_attn_layer_norm", crossNorm)]
    }
    // The feed-forward's own names (fc1, fc2) sit directly in the layer.
    return layers + [("", feedForward), ("final_layer_norm", finalNorm)]
  }

  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}

/// A BART encoder or decoder: scaled token embedding plus learned positions
/// (offset by 2, as in the reference), an embedding layer norm, then blocks.
final class BartStack: LayerStack, LayerTree {
  static let positionOffset = 2
  let role: StackRole
  var blocks: [any TransformerBlock]
  let embedding: Embedding
  let positions: Embedding
  let embeddingNorm: LayerNorm
  /// mBART's norm after the last layer; nil for BART.
  let finalNorm: LayerNorm?
  let configuration: BartConfiguration

  init(_ config: BartConfiguration, role: StackRole, embedding: Embedding, using generator: inout SeededRandom) {
    self.role = role
    self.embedding = embedding
    configuration = config
    let depth = role == .encoder ? config.encoderLayers : config.decoderLayers
    blocks = (0..<depth).map { _ in BartBlock(config, isDecoder: role == .decoder, using: &generator) }
    positions = Embedding(
      count: config.maxPositionEmbeddings + BartStack.positionOffset, width: config.dModel, std: config.initStd, using: &generator)
    embeddingNorm = LayerNorm(width: config.dModel)
    finalNorm = config.isPreNorm ? LayerNorm(width: config.dModel) : nil
  }

  func embed(_ ids: [Int], batch: Int, length: Int, pastLength: Int, dropout: ((Tensor) -> Tensor)?) -> Tensor {
    var tokens = embedding(ids, shape: [batch, length])
    if configuration.scaleEmbedding { tokens = tokens.scaled(by: Float(configuration.dModel).squareRoot()) }
    let positionIDs = (0..<length).map { pastLength + $0 + BartStack.positionOffset }
    let normed = embeddingNorm(tokens + positions(positionIDs, shape: [1, length]))
    return dropout?(normed) ?? normed
  }

  func context(
    batch: Int, queries: Int, pastLength: Int, keyKeep: [Float]?, memory: Tensor?, memoryKeep: [Float]?,
    dropout: ((Tensor) -> Tensor)?
  ) -> BlockContext {
    let (selfBias, memoryBias) = standardMasks(
      batch: batch, queries: queries, pastLength: pastLength, keyKeep: keyKeep, memoryKeep: memoryKeep)
    return BlockContext(selfBias: selfBias, memory: memory, memoryBias: memoryBias, dropout: dropout)
  }

  func finish(_ hidden: Tensor, dropout: ((Tensor) -> Tensor)?) -> Tensor { finalNorm.map { $0(hidden) } ?? hidden }

  func makeBlock(using generator: inout SeededRandom) -> any TransformerBlock {
    BartBlock(configuration, isDecoder: role == .decoder, using: &generator)
  }

  /// The reference checkpoint's key of the stack's tied copy of the shared embedding.
  static let embeddingCopyKey = "embed_tokens"

  var sublayers: [(key: String, layer: any ParameterContainer)] {
    [("embed_positions", positions), ("layernorm_embedding", embeddingNorm)]
      + blocks.enumerated().map { ("layers.\($0.offset)", $0.element as any ParameterContainer) }
      + (finalNorm.map { [("layer_norm", $0 as any ParameterContainer)] } ?? [])
  }

  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}

/// BART or mBART for conditional generation: a head (tied to the shared embedding, or
/// its own `lm_head`) plus `final_logits_bias`.
public final class BartModel: Seq2SeqModel, LayerTree {
  public private(set) var configuration: BartConfiguration
  static let sharedKey = "model.shared"
  let shared: Embedding
  static let encoderKey = "model.encoder"
  let bartEncoder: BartStack
  static let decoderKey = "model.decoder"
  let bartDecoder: BartStack
  static let finalLogitsBiasKey = "final_logits_bias"
  let finalLogitsBias: Parameter
  /// The reference checkpoint's head: a tied copy of the shared embedding, or
  /// (`tie_word_embeddings: false`) its own weights.
  static let headKey = "lm_head"
  var head: (any LinearLayer)?

  public init(_ config: BartConfiguration, using generator: inout SeededRandom) {
    configuration = config
    shared = Embedding(count: config.vocabSize, width: config.dModel, std: config.initStd, paddingIndex: config.padTokenId, using: &generator)
    bartEncoder = BartStack(config, role: .encoder, embedding: shared, using: &generator)
    bartDecoder = BartStack(config, role: .decoder, embedding: shared, using: &generator)
    finalLogitsBias = Parameter(Tensor.zeros([1, config.vocabSize]))
    head = config.tieWordEmbeddings
      ? nil : Linear(inputSize: config.dModel, outputSize: config.vocabSize, hasBias: false, using: &generator)
  }

  public var modelType: String { configuration.modelType }
  public var encoder: any LayerStack { bartEncoder }
  public var decoder: any LayerStack { bartDecoder }
  public var vocabularySize: Int { configuration.vocabSize }
  public var modelWidth: Int { configuration.dModel }
  public var dropoutRate: Float { configuration.dropout }
  public var specialTokens: SpecialTokenIDs {
    SpecialTokenIDs(pad: configuration.padTokenId, eos: configuration.eosTokenId, decoderStart: configuration.decoderStartTokenId)
  }

  public func logits(_ decoderOutput: Tensor) -> Tensor {
    (head.map { $0(decoderOutput) } ?? Linear(weight: shared.weight)(decoderOutput)) + finalLogitsBias.value
  }

  public var sublayers: [(key: String, layer: any ParameterContainer)] {
    [(BartModel.sharedKey, shared), (BartModel.encoderKey, bartEncoder), (BartModel.decoderKey, bartDecoder)]
      + (head.map { [(BartModel.headKey, $0 as any ParameterContainer)] } ?? [])
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    sublayers.flatMap { joinKeys($0.key, $0.layer.namedParameters()) } + [(BartModel.finalLogitsBiasKey, finalLogitsBias)]
  }

  public func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool {
    guard key == BartModel.headKey, head != nil else { return false }
    head = layer
    return true
  }

  /// Learned positions: sources and outputs can be at most `max_position_embeddings` long.
  public var positionLimit: Int? { configuration.maxPositionEmbeddings }
  public var forcedTokenIDs: (bos: Int?, eos: Int?) { (configuration.forcedBosTokenId, configuration.forcedEosTokenId) }

  public func configurationJSON() throws -> Data { try configurationJSON(of: configuration) }

  /// BART's feed-forward widths are per stack; its head width is `d_model / heads`
  /// (in transformers too), so a BART with fewer heads of the same width has no config.
  public func configurationJSON(resizedTo sizes: BlockSizes) throws -> Data {
    var config = configuration
    guard sizes.heads[.encoder] == config.encoderAttentionHeads, sizes.heads[.decoder] == config.decoderAttentionHeads else {
      throw StructuredPruningError.unsupported(
        "BART derives its head width from d_model / heads, so a BART with fewer heads has no config.json transformers loads; prune --targets ffn")
    }
    guard let encoderWidth = sizes.feedForwardWidths[.encoder], let decoderWidth = sizes.feedForwardWidths[.decoder] else {
      throw StructuredPruningError.unsupported("BART needs a feed-forward width for each stack; got \(sizes)")
    }
    (config.encoderFfnDim, config.decoderFfnDim) = (encoderWidth, decoderWidth)
    return try configurationJSON(of: config)
  }

  private func configurationJSON(of base: BartConfiguration) throws -> Data {
    var config = base
    config.encoderLayers = bartEncoder.blocks.count
    config.decoderLayers = bartDecoder.blocks.count
    let architecture = config.isPreNorm ? "MBartForConditionalGeneration" : "BartForConditionalGeneration"
    return try ModelConfigurationWriter.json(config, architecture: architecture, floatKeys: ["dropout", "init_std"])
  }

  /// The checkpoint keys of the shared embedding's tied copies (the head's only when it is tied).
  var tiedCopyKeys: [String] {
    ["\(BartModel.encoderKey).\(BartStack.embeddingCopyKey).weight", "\(BartModel.decoderKey).\(BartStack.embeddingCopyKey).weight"]
      + (head == nil ? ["\(BartModel.headKey).weight"] : [])
  }

  public func checkpointTensors() -> [String: Tensor] {
    var tensors = LinearLayers.denseStateDictionary(of: self)
    for key in tiedCopyKeys { tensors[key] = tensors["\(BartModel.sharedKey).weight"] }
    return tensors
  }

  /// Drops the tied copies of the shared embedding after checking them.
  public func sanitize(weights: [String: Tensor], source: String) throws -> [String: Tensor] {
    var result = weights
    for key in tiedCopyKeys {
      try ModelLoading.dropTiedCopy(&result, key: key, of: "\(BartModel.sharedKey).weight", source: source)
    }
    return result
  }
}
