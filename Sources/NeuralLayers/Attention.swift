import TensorCore

/// Keys and values kept between decoding steps. Self-attention keys grow by
/// one position per generated token; cross-attention keys are computed once.
public final class AttentionCache {
  public var keys: Tensor?    // [B, H, L, D]
  public var values: Tensor?  // [B, H, L, D]
  public init() {}
  /// The number of cached positions.
  public var length: Int { keys?.shape[2] ?? 0 }
}

/// Multi-head attention with separate query/key/value/output projections.
///
/// T5 flavour: no biases, unscaled scores, a relative position bias passed in
/// through `bias`. BART flavour: biases, scores scaled by `D^-0.5`.
/// `bias` is additive and broadcasts to `[B, H, T, L]` (masks are folded in).
public final class MultiHeadAttention: LayerTree {
  /// The projections; any ``LinearLayer`` of the same sizes can replace one.
  public var query: any LinearLayer, key: any LinearLayer, value: any LinearLayer, output: any LinearLayer
  public let heads: Int
  public let headWidth: Int
  public let scale: Float
  /// Checkpoint names of the four projections (`q,k,v,o` or `q_proj,…,out_proj`).
  public let projectionNames: [String]

  public init(
    modelWidth: Int, heads: Int, headWidth: Int, hasBias: Bool, scaleScores: Bool,
    projectionNames: [String], using generator: inout SeededRandom
  ) {
    precondition(projectionNames.count == 4, "four projection names expected")
    let inner = heads * headWidth
    query = Linear(inputSize: modelWidth, outputSize: inner, hasBias: hasBias, using: &generator)
    key = Linear(inputSize: modelWidth, outputSize: inner, hasBias: hasBias, using: &generator)
    value = Linear(inputSize: modelWidth, outputSize: inner, hasBias: hasBias, using: &generator)
    output = Linear(inputSize: inner, outputSize: modelWidth, hasBias: hasBias, using: &generator)
    self.heads = heads
    self.headWidth = headWidth
    scale = scaleScores ? 1 / Float(headWidth).squareRoot() : 1
    self.projectionNames = projectionNames
  }

  /// `[B, L, H·D]` → `[B, H, L, D]`.
  func splitHeads(_ x: Tensor) -> Tensor {
    x.reshaped([x.shape[0], x.shape[1], heads, headWidth]).permuted([0, 2, 1, 3])
  }

  /// Attends from `hidden` `[B, T, C]` to `source` (`hidden` itself for
  /// self-attention, the encoder memory `[B, S, C]` for cross-attention).
  ///
  /// With a cache: self-attention appends this step's keys and values;
  /// cross-attention (`isCrossAttention`) fills the cache once and reuses it.
  /// `probabilityTap` receives the attention probabilities `[B, H, T, L]`.
  public func callAsFunction(
    _ hidden: Tensor, source: Tensor? = nil, bias: Tensor?, cache: AttentionCache? = nil,
    isCrossAttention: Bool = false, probabilityTap: ((Tensor) -> Void)? = nil
  ) -> Tensor {
    let (batch, length) = (hidden.shape[0], hidden.shape[1])
    let q = splitHeads(query(hidden))
    var k: Tensor, v: Tensor
    if isCrossAttention, let cache, let cachedKeys = cache.keys, let cachedValues = cache.values {
      k = cachedKeys
      v = cachedValues
    } else {
      let from = source ?? hidden
      k = splitHeads(key(from))
      v = splitHeads(value(from))
      if let cache {
        if !isCrossAttention, let pastKeys = cache.keys, let pastValues = cache.values {
          k = Tensor.concat([pastKeys, k], axis: 2)
          v = Tensor.concat([pastValues, v], axis: 2)
        }
        cache.keys = k
        cache.values = v
      }
    }
    // [B, H, T, D] · [B, H, L, D]ᵀ → [B, H, T, L]
    var scores = q.matmul(k, transposeB: true)
    if scale != 1 { scores = scores.scaled(by: scale) }
    if let bias { scores = scores + bias }
    let probabilities = scores.softmax()
    probabilityTap?(probabilities)
    let context = probabilities.matmul(v).permuted([0, 2, 1, 3]).reshaped([batch, length, heads * headWidth])
    return output(context)
  }

  public var sublayers: [(key: String, layer: any ParameterContainer)] {
    zip(projectionNames, [query, key, value, output] as [any ParameterContainer]).map { ($0, $1) }
  }

  public func replaceSublayer(_ name: String, with layer: any LinearLayer) -> Bool {
    switch projectionNames.firstIndex(of: name) {
    case 0: query = layer
    case 1: key = layer
    case 2: value = layer
    case 3: output = layer
    default: return false
    }
    return true
  }
}
