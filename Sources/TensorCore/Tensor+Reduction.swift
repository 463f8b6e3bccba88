extension Tensor {
  /// Normalises possibly negative axes and sorts them.
  func normalizedAxes(_ axes: [Int]) -> [Int] {
    let result = axes.map { axis -> Int in
      let a = axis < 0 ? axis + rank : axis
      precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
      return a
    }
    return Array(Set(result)).sorted()
  }

  /// Reduces one axis with `combine`, viewing the tensor as `[outer, n, inner]`.
  func reduceAxis(_ axis: Int, initial: Float, _ combine: (Float, Float) -> Float) -> Tensor {
    let outer = shape[..<axis].reduce(1, *)
    let n = shape[axis]
    let inner = shape[(axis + 1)...].reduce(1, *)
    var outShape = shape
    outShape[axis] = 1
    let out = Tensor(repeating: initial, shape: outShape)
    let src = storage.pointer, dst = out.storage.pointer
    if inner == 1 {
      parallelChunks(outer, grain: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { rows in
        for o in rows {
          var acc = initial
          let base = src + o * n
          for j in 0..<n { acc = combine(acc, base[j]) }
          dst[o] = acc
        }
      }
    } else {
      parallelChunks(outer, grain: Swift.max(1, (1 << 15) / Swift.max(n * inner, 1))) { rows in
        for o in rows {
          let target = dst + o * inner
          for j in 0..<n {
            let row = src + (o * n + j) * inner
            for k in 0..<inner { target[k] = combine(target[k], row[k]) }
          }
        }
      }
    }
    return out
  }

  /// The sum over `axes` (all axes when empty), keeping reduced axes as size 1
  /// when `keepDims`.
  public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
    let reduce = axes.isEmpty ? Array(0..<rank) : normalizedAxes(axes)
    var result = detached()
    for axis in reduce { result = result.reduceAxis(axis, initial: 0, +) }
    let keptShape = result.shape
    var out = keepDims ? result : result.reshapedWithoutRecording(shape.enumerated().filter { !reduce.contains($0.offset) }.map(\.element))
    out.node = nil
    let inputShape = shape
    Tensor.record(&out, inputs: [self]) { g in
      [Tensor.broadcastBinary(Tensor.zeros(inputShape), g.reshapedWithoutRecording(keptShape), AddKernel.self)]
    }
    return out
  }

  /// Sum over one axis.
  public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

  /// The mean over `axes` (all axes when empty).
  public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
    let reduce = axes.isEmpty ? Array(0..<rank) : normalizedAxes(axes)
    let n = reduce.reduce(1) { $0 * shape[$1] }
    return sum(axes: reduce, keepDims: keepDims).scaled(by: 1 / Float(Swift.max(n, 1)))
  }

  /// Mean over one axis.
  public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

  /// The maximum over `axes` (all axes when empty). The gradient goes to every
  /// element equal to the maximum.
  public func max(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
    let reduce = axes.isEmpty ? Array(0..<rank) : normalizedAxes(axes)
    var result = detached()
    for axis in reduce { result = result.reduceAxis(axis, initial: -Float.infinity) { Swift.max($0, $1) } }
    let kept = result
    var out = keepDims ? result : result.reshapedWithoutRecording(shape.enumerated().filter { !reduce.contains($0.offset) }.map(\.element))
    out.node = nil
    let x = detached()
    Tensor.record(&out, inputs: [self]) { g in
      let dx = Tensor.zeros(x.shape)
      let stridesM = Broadcasting.strides(of: kept.shape, in: x.shape)
      let gk = g.reshapedWithoutRecording(kept.shape)
      let px = x.storage.pointer, pm = kept.storage.pointer, pg = gk.storage.pointer
      let pd = dx.storage.pointer
      let last = x.shape.last ?? 1
      let sm = stridesM.last ?? 0
      forEachRow(x.shape.isEmpty ? [1] : x.shape, stridesM, stridesM) { row, offset, _ in
        for j in 0..<last where px[row * last + j] == pm[offset + j * sm] {
          pd[row * last + j] = pg[offset + j * sm]
        }
      }
      return [dx]
    }
    return out
  }

  /// The index of the largest element along the last axis, per row: the
  /// first one where several are equal; NaN never wins, and a row with
  /// nothing above −∞ gives 0. (A 16-lane version with NaN masks ran slower
  /// here: Swift's SIMD masks are not vectorised in the baseline build.)
  public func argmaxLastAxis() -> [Int] {
    let n = shape.last ?? 1
    let rows = count / Swift.max(n, 1)
    let p = storage.pointer
    return (0..<rows).map { r in
      var best = 0
      var bestValue = -Float.infinity
      for j in 0..<n where p[r * n + j] > bestValue {
        bestValue = p[r * n + j]
        best = j
      }
      return best
    }
  }
}

extension Tensor {
  /// ‖self − reference‖ / ‖reference‖ over all elements (‖self − reference‖ when the reference is zero).
  public func relativeError(to reference: Tensor) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(scalars, reference.scalars) {
      difference += Double(x - y) * Double(x - y)
      norm += Double(y) * Double(y)
    }
    return norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
  }
}
