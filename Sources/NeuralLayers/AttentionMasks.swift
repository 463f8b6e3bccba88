import TensorCore

/// Additive attention biases: 0 where attention is allowed and the most
/// negative finite Float where it is not (as the reference does, so padded
/// query rows stay finite).
public enum AttentionMasks {
  public static let blocked: Float = -Float.greatestFiniteMagnitude

  /// `[B, L]` keep-mask (1 keep, 0 pad) → `[B, 1, 1, L]` bias over keys.
  public static func padding(_ keep: [Float], batch: Int, length: Int) -> Tensor {
    precondition(keep.count == batch * length, "mask has \(keep.count) entries, expected \(batch)×\(length)")
    return Tensor(keep.map { $0 != 0 ? 0 : blocked }, shape: [batch, 1, 1, length])
  }

  /// Causal bias `[1, 1, T, P+T]` for `T` new queries after `past` cached positions,
  /// combined with an optional key keep-mask `[B, P+T]` → `[B, 1, T, P+T]`.
  public static func causal(queries: Int, past: Int = 0, keyKeep: [Float]? = nil, batch: Int = 1) -> Tensor {
    let keys = past + queries
    let rows = keyKeep == nil ? 1 : batch
    var values = [Float](repeating: 0, count: rows * queries * keys)
    for b in 0..<rows {
      for t in 0..<queries {
        for s in 0..<keys {
          let allowed = s <= past + t && (keyKeep.map { $0[b * keys + s] != 0 } ?? true)
          values[(b * queries + t) * keys + s] = allowed ? 0 : blocked
        }
      }
    }
    return Tensor(values, shape: [rows, 1, queries, keys])
  }
}

/// T5's bucketed relative position bias: one learned scalar per head and bucket.
public final class RelativePositionBias: ParameterContainer {
  public let table: Parameter  // [buckets, H]
  public let isBidirectional: Bool
  public let bucketCount: Int
  public let maxDistance: Int

  public init(bucketCount: Int, maxDistance: Int, heads: Int, isBidirectional: Bool, using generator: inout SeededRandom) {
    table = Parameter(Initializers.normal([bucketCount, heads], std: 1, using: &generator))
    self.isBidirectional = isBidirectional
    self.bucketCount = bucketCount
    self.maxDistance = maxDistance
  }

  /// The bucket of `relative = key − query`, as in the reference: half the
  /// buckets hold exact small distances, the rest grow logarithmically up to
  /// `maxDistance`; bidirectional stacks split buckets by sign.
  public static func bucket(relative: Int, isBidirectional: Bool, bucketCount: Int, maxDistance: Int) -> Int {
    var buckets = bucketCount
    var result = 0
    var distance: Int
    if isBidirectional {
      buckets /= 2
      if relative > 0 { result += buckets }
      distance = abs(relative)
    } else {
      distance = -Swift.min(relative, 0)
    }
    let maxExact = buckets / 2
    if distance < maxExact { return result + distance }
    // Float32 arithmetic, like the reference, so boundaries land identically.
    let ratio = Float(distance) / Float(maxExact)
    let logScale = Float(_log(Double(maxDistance) / Double(maxExact)))
    let large = maxExact + Int(_logf(ratio) / logScale * Float(buckets - maxExact))
    return result + Swift.min(large, buckets - 1)
  }

  /// The bias `[1, H, T, L]` for queries at positions `queryOffset..<queryOffset+T` and keys `0..<L`.
  public func callAsFunction(queries: Int, keys: Int, queryOffset: Int = 0) -> Tensor {
    var ids = [Int]()
    ids.reserveCapacity(queries * keys)
    for t in 0..<queries {
      for s in 0..<keys {
        ids.append(RelativePositionBias.bucket(
          relative: s - (t + queryOffset), isBidirectional: isBidirectional, bucketCount: bucketCount, maxDistance: maxDistance))
      }
    }
    // [T, L, H] → [1, H, T, L]
    let values = table.value.gatherRows(ids, indexShape: [queries, keys])
    return values.permuted([2, 0, 1]).reshaped([1, table.shape[1], queries, keys])
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] { [("weight", table)] }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _logf(_ x: Float) -> Float { Foundation.log(x) }
