import NeuralLayers
import TensorCore

/// Which half of an encoder-decoder a stack is.
public enum StackRole: String, Codable, Sendable, CaseIterable {
  case encoder, decoder
}

/// An encoder or decoder as modular compression sees it: an embedding step,
/// a list of blocks that can be run in ranges and replaced, and a final step.
public protocol LayerStack: ParameterContainer {
  var role: StackRole { get }
  /// The blocks, in order; assigning a shorter list assembles a smaller model.
  var blocks: [any TransformerBlock] { get set }
  /// Token ids `[B, T]` (row-major) → embeddings `[B, T, C]`; `pastLength`
  /// positions were decoded before (learned positions start after them).
  func embed(_ ids: [Int], batch: Int, length: Int, pastLength: Int, dropout: ((Tensor) -> Tensor)?) -> Tensor
  /// Masks and biases for `queries` new positions after `pastLength` cached ones.
  /// `keyKeep` is the `[B, pastLength + queries]` keep-mask of this stack's
  /// tokens (nil: all kept); `memoryKeep` the `[B, S]` mask of the encoder's.
  func context(
    batch: Int, queries: Int, pastLength: Int, keyKeep: [Float]?, memory: Tensor?, memoryKeep: [Float]?,
    dropout: ((Tensor) -> Tensor)?
  ) -> BlockContext
  /// The step after the last block (T5's final norm; identity for BART).
  func finish(_ hidden: Tensor, dropout: ((Tensor) -> Tensor)?) -> Tensor
  /// A freshly initialised block with this stack's layer shape.
  func makeBlock(using generator: inout SeededRandom) -> any TransformerBlock
}

extension LayerStack {
  public var depth: Int { blocks.count }

  /// The masks of both families: causal plus key padding in a decoder, key
  /// padding in an encoder, and padding over the encoder memory.
  func standardMasks(
    batch: Int, queries: Int, pastLength: Int, keyKeep: [Float]?, memoryKeep: [Float]?
  ) -> (selfMask: Tensor?, memoryBias: Tensor?) {
    let selfMask: Tensor? =
      role == .decoder
      ? AttentionMasks.causal(queries: queries, past: pastLength, keyKeep: keyKeep, batch: batch)
      : keyKeep.map { AttentionMasks.padding($0, batch: batch, length: pastLength + queries) }
    let memoryBias = memoryKeep.map { AttentionMasks.padding($0, batch: batch, length: $0.count / batch) }
    return (selfMask, memoryBias)
  }

  /// Runs blocks `range` on `hidden`, recording into `taps` when given.
  public func run(
    _ range: Range<Int>, _ hidden: Tensor, context: BlockContext, caches: [BlockCache]? = nil, taps: StackTaps? = nil
  ) -> Tensor {
    var h = hidden
    for index in range {
      taps.map { if $0.hiddenStates.count == index { $0.hiddenStates.append(h) } }
      var attentionTaps: AttentionTaps?
      if let taps, taps.attentionBlocks.contains(index) {
        attentionTaps = AttentionTaps(
          selfAttention: { taps.selfAttention[index] = $0 }, crossAttention: { taps.crossAttention[index] = $0 })
      }
      h = blocks[index](h, context: context, cache: caches?[index], taps: attentionTaps)
    }
    if let taps, range.upperBound == blocks.count, taps.hiddenStates.count == blocks.count { taps.hiddenStates.append(h) }
    return h
  }

  /// Embeds, runs every block and finishes.
  public func forward(
    _ ids: [Int], batch: Int, length: Int, keep: [Float]?, memory: Tensor? = nil, memoryKeep: [Float]? = nil,
    caches: [BlockCache]? = nil, pastLength: Int = 0, taps: StackTaps? = nil, dropout: ((Tensor) -> Tensor)? = nil
  ) -> Tensor {
    let embedded = embed(ids, batch: batch, length: length, pastLength: pastLength, dropout: dropout)
    let ctx = context(
      batch: batch, queries: length, pastLength: pastLength, keyKeep: keep, memory: memory, memoryKeep: memoryKeep,
      dropout: dropout)
    let out = finish(run(0..<blocks.count, embedded, context: ctx, caches: caches, taps: taps), dropout: dropout)
    taps?.output = out
    return out
  }
}
