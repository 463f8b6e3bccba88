import AttentionKernels
import TensorCore

/// Keys and values kept between decoding steps. Self-attention keys grow by
/// one position per generated token; cross-attention keys are computed once.
///
/// They live in buffers `[B, H, capacity, D]` that grow by doubling, so a
/// step appends its positions in place instead of copying the whole cache.
public final class AttentionCache {
  private var keyBuffer: Tensor?    // [B, H, capacity, D]
  private var valueBuffer: Tensor?  // [B, H, capacity, D]
  /// The number of cached positions.
  public private(set) var length = 0

  public init() {}

  /// The cached keys `[B, H, L, D]` (a copy when the buffer has room to spare).
  public var keys: Tensor? {
    get { keyBuffer.map { compacted($0) } }
    set { (keyBuffer, length) = (newValue, newValue?.shape[2] ?? 0) }
  }

  /// The cached values `[B, H, L, D]`; set keys and values together.
  public var values: Tensor? {
    get { valueBuffer.map { compacted($0) } }
    set { valueBuffer = newValue }
  }

  var capacity: Int { keyBuffer?.shape[2] ?? 0 }

  /// Appends `k` and `v` `[B, H, T, D]` after the cached positions.
  func append(keys k: Tensor, values v: Tensor) {
    let (batch, heads, count, width) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
    if let buffer = keyBuffer, buffer.shape[0] != batch || buffer.shape[1] != heads || buffer.shape[3] != width {
      // Kept in unchecked builds: a mismatch would copy past the buffer.
      fatalError("attention cache holds [\(buffer.shape[0]), \(buffer.shape[1]), _, \(buffer.shape[3])], appended \(k.shape)")
    }
    if keyBuffer == nil || length + count > capacity {
      let grown = Swift.max(length + count, 2 * capacity, 16)
      keyBuffer = resized(keyBuffer, to: grown, batch: batch, heads: heads, width: width)
      valueBuffer = resized(valueBuffer, to: grown, batch: batch, heads: heads, width: width)
    }
    let (capacity, start) = (self.capacity, length)
    for (source, target) in [(k, \AttentionCache.keyBuffer), (v, \AttentionCache.valueBuffer)] {
      self[keyPath: target]!.withMutableValues { buffer in
        source.withValues { new in
          for row in 0..<(batch * heads) {
            (buffer.baseAddress! + (row * capacity + start) * width)
              .update(from: new.baseAddress! + row * count * width, count: count * width)
          }
        }
      }
    }
    length += count
  }

  /// `buffer` with room for `capacity` positions, its cached ones copied.
  private func resized(_ buffer: Tensor?, to capacity: Int, batch: Int, heads: Int, width: Int) -> Tensor {
    var grown = Tensor.zeros([batch, heads, capacity, width])
    guard let buffer, length > 0 else { return grown }
    let old = buffer.shape[2]
    grown.withMutableValues { target in
      buffer.withValues { source in
        for row in 0..<(batch * heads) {
          (target.baseAddress! + row * capacity * width).update(from: source.baseAddress! + row * old * width, count: length * width)
        }
      }
    }
    return grown
  }

  private func compacted(_ buffer: Tensor) -> Tensor {
    guard buffer.shape[2] != length else { return buffer }
    return buffer.slice(axis: 2, 0..<length)
  }

  /// Fused attention of one query per row and head `[B, H·D]` over the cache;
  /// `bias` broadcasts to `[B, H, 1, L]`.
  func attend(_ q: Tensor, heads: Int, scale: Float, bias: Tensor?) -> Tensor {
    let (batch, width) = (q.shape[0], q.shape[1] / heads)
    let length = self.length, capacity = self.capacity
    // The bias as [B, H, L] rows (a [1, H, 1, L] position bias is read without copying).
    var strides = (row: 0, head: 0)
    var biasRows: Tensor?
    if let bias {
      let full = bias.shape == [1, heads, 1, length] || bias.shape == [batch, heads, 1, length]
        ? bias : bias + Tensor.zeros([batch, heads, 1, length])
      strides = (full.shape[0] == 1 ? 0 : heads * length, length)
      biasRows = full
    }
    var out = Tensor(uninitializedShape: [batch, heads * width])
    var scratch = [Float](repeating: 0, count: Swift.max(length, 1))
    out.withMutableValues { o in
      q.withValues { query in
        keyBuffer!.withValues { k in
          valueBuffer!.withValues { v in
            scratch.withUnsafeMutableBufferPointer { s in
              func run(_ b: UnsafePointer<Float>?) {
                ta_attend_single_query(
                  query.baseAddress, k.baseAddress, v.baseAddress, batch, heads, width, capacity, length, scale, b,
                  strides.row, strides.head, s.baseAddress, o.baseAddress)
              }
              if let biasRows { biasRows.withValues { run($0.baseAddress) } } else { run(nil) }
            }
          }
        }
      }
    }
    return out
  }
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
    if let cache, length == 1, !GradientMode.isEnabled, probabilityTap == nil {
      return decodingStep(hidden, source: source, bias: bias, cache: cache, isCrossAttention: isCrossAttention)
    }
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
        if isCrossAttention { cache.keys = nil }
        cache.append(keys: k, values: v)
        (k, v) = (cache.keys!, cache.values!)
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

  /// One decoding step (one query per row, no gradients): the new keys and
  /// values go into the cache in place and attention runs fused over it.
  private func decodingStep(
    _ hidden: Tensor, source: Tensor?, bias: Tensor?, cache: AttentionCache, isCrossAttention: Bool
  ) -> Tensor {
    let batch = hidden.shape[0]
    if !isCrossAttention || cache.length == 0 {
      let from = source ?? hidden
      cache.append(keys: splitHeads(key(from)), values: splitHeads(value(from)))
    }
    let q = query(hidden).reshaped([batch, heads * headWidth])
    return output(cache.attend(q, heads: heads, scale: scale, bias: bias).reshaped([batch, 1, heads * headWidth]))
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
