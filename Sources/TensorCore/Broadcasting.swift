/// NumPy broadcasting: shapes align at the right; a dimension of 1 stretches.
public enum Broadcasting {
  /// The broadcast shape of `a` and `b`; traps on incompatible shapes.
  public static func shape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
      let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
      precondition(da == db || da == 1 || db == 1, "shapes \(a) and \(b) do not broadcast")
      result[i] = da == 1 ? db : da
    }
    return result
  }

  /// Element strides of `shape` viewed as `target` (0 along stretched dimensions).
  static func strides(of shape: [Int], in target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    let offset = target.count - shape.count
    for i in Swift.stride(from: shape.count - 1, through: 0, by: -1) {
      strides[i + offset] = shape[i] == 1 ? 0 : step
      step *= shape[i]
    }
    return strides
  }

  /// Whether `shape` viewed as `target` is `target`'s trailing dimensions
  /// repeated (e.g. a bias `[C]` against `[B, T, C]`).
  static func isTrailingRepeat(_ shape: [Int], of target: [Int]) -> Bool {
    let trimmed = Array(shape.drop(while: { $0 == 1 }))
    return trimmed.count <= target.count && Array(target.suffix(trimmed.count)) == trimmed
  }
}

/// Calls `body(outerIndex, offsetA, offsetB)` for every position of all but the
/// last dimension of `shape` (or the positions `rows` of them, in row-major
/// order), with element offsets of two broadcast operands.
@inline(__always)
func forEachRow(
  _ shape: [Int], _ stridesA: [Int], _ stridesB: [Int], rows: Range<Int>? = nil,
  _ body: (Int, Int, Int) -> Void
) {
  let outerRank = shape.count - 1
  let rows = rows ?? 0..<shape.dropLast().reduce(1, *)
  var index = [Int](repeating: 0, count: Swift.max(outerRank, 0))
  var offsetA = 0
  var offsetB = 0
  // The multi-index of the first row, from the last outer axis up.
  var remainder = rows.lowerBound
  for axis in stride(from: outerRank - 1, through: 0, by: -1) {
    index[axis] = remainder % shape[axis]
    remainder /= shape[axis]
    offsetA += index[axis] * stridesA[axis]
    offsetB += index[axis] * stridesB[axis]
  }
  for row in rows {
    body(row, offsetA, offsetB)
    var axis = outerRank - 1
    while axis >= 0 {
      index[axis] += 1
      offsetA += stridesA[axis]
      offsetB += stridesB[axis]
      if index[axis] < shape[axis] { break }
      offsetA -= stridesA[axis] * shape[axis]
      offsetB -= stridesB[axis] * shape[axis]
      index[axis] = 0
      axis -= 1
    }
  }
}
