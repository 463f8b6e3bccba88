import NeuralLayers
import TensorCore

/// What every block of a stack receives besides its hidden states.
public struct BlockContext {
  /// Additive self-attention bias broadcasting to `[B, H, T, L]` (masks and T5's position bias).
  public var selfBias: Tensor?
  /// The encoder output `[B, S, C]`, for decoder blocks.
  public var memory: Tensor?
  /// Additive cross-attention bias broadcasting to `[B, H, T, S]`.
  public var memoryBias: Tensor?
  /// Dropout for residual branches; nil at inference.
  public var dropout: ((Tensor) -> Tensor)?

  public init(selfBias: Tensor? = nil, memory: Tensor? = nil, memoryBias: Tensor? = nil, dropout: ((Tensor) -> Tensor)? = nil) {
    self.selfBias = selfBias
    self.memory = memory
    self.memoryBias = memoryBias
    self.dropout = dropout
  }
}

/// Per-block key/value caches for incremental decoding.
public final class BlockCache {
  public let selfAttention = AttentionCache()
  public let crossAttention = AttentionCache()
  public init() {}
}

/// Receives a block's attention probabilities `[B, H, T, L]` when asked.
public struct AttentionTaps {
  public var selfAttention: ((Tensor) -> Void)?
  public var crossAttention: ((Tensor) -> Void)?
  public init(selfAttention: ((Tensor) -> Void)? = nil, crossAttention: ((Tensor) -> Void)? = nil) {
    self.selfAttention = selfAttention
    self.crossAttention = crossAttention
  }
}

/// One unit of a stack: a teacher layer or a module that replaces several.
/// Both have the shape of one layer, so an assembled model is a shorter stack.
public protocol TransformerBlock: ParameterContainer {
  /// `[B, T, C]` → `[B, T, C]`.
  func callAsFunction(_ hidden: Tensor, context: BlockContext, cache: BlockCache?, taps: AttentionTaps?) -> Tensor
  /// An independent copy with the same weights (modules start as copies of teacher layers).
  func copy() -> any TransformerBlock
}

extension TransformerBlock {
  /// Copies this block's weights into `target` (same architecture, dense
  /// layers: a replaced linear layer is copied as its fused dense weights).
  func copyWeights(into target: some ParameterContainer) -> Self {
    try! target.loadStateDictionary(LinearLayers.denseStateDictionary(of: self))  // same type: keys and shapes match
    return target as! Self
  }
}

/// Hidden states and attention maps captured by block index during a pass.
public final class StackTaps {
  /// `hiddenStates[i]` is the input of block `i`; the last entry is the output
  /// of the last block before the stack's final norm. Length: depth + 1.
  public internal(set) var hiddenStates: [Tensor] = []
  /// Blocks whose attention probabilities are kept.
  public var attentionBlocks: Set<Int>
  public internal(set) var selfAttention: [Int: Tensor] = [:]
  public internal(set) var crossAttention: [Int: Tensor] = [:]
  /// The stack's output after its final norm.
  public internal(set) var output: Tensor?

  public init(attentionBlocks: Set<Int> = []) { self.attentionBlocks = attentionBlocks }
}
