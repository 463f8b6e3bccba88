/// Softmax, log-softmax and the cross-entropy gradient, row by row. Each row is
/// a vectorisable map between SIMD reductions: accumulating inside an `exp`
/// loop would keep it scalar.
extension KernelSet {
  /// Rows are read in blocks of this many elements by the pipelined kernels.
  @inlinable static var rowBlock: Int { 256 }

  /// `y[j] = exp(x[j] − shift)` for one row, returning the maximum of `next`
  /// (the following row, if any), read block by block in step with this row's
  /// math. A separate pass over a row straight from memory would stall on
  /// memory latency at the start of every row; this keeps loads in flight.
  /// The maximum is the same value a whole-row pass gives.
  @inlinable @inline(__always) static func expRow(
    _ x: UnsafePointer<Float>, minus shift: Float, into y: UnsafeMutablePointer<Float>, width n: Int,
    maximumOf next: UnsafePointer<Float>?
  ) -> Float {
    var nextMaximum = FastMath.PartialMaximum()
    var start = 0
    while start < n {
      let length = Swift.min(rowBlock, n - start)
      let source = x + start, target = y + start
      // The next row's loads go first, so their memory latency overlaps this block's math.
      if let next { addMaximum(next + start, count: length, to: &nextMaximum) }
      for j in 0..<length { target[j] = FastMath.exp(source[j] - shift, using: Arithmetic.self) }
      start += length
    }
    return nextMaximum.value
  }

  /// Folds `count` elements (any count) into `partial`.
  @inlinable @inline(__always) static func addMaximum(
    _ x: UnsafePointer<Float>, count: Int, to partial: inout FastMath.PartialMaximum
  ) {
    var j = 0
    while j + 32 <= count {
      partial.first = FastMath.larger(partial.first, FastMath.load(x + j))
      partial.second = FastMath.larger(partial.second, FastMath.load(x + j + 16))
      j += 32
    }
    while j < count {
      partial.tail = x[j] > partial.tail ? x[j] : partial.tail
      j += 1
    }
  }

  @inlinable public static func softmax(
    _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    var nextMaximum = rows > 0 ? FastMath.maximum(x, count: n) : 0
    for r in 0..<rows {
      let y = y + r * n
      var maximum = nextMaximum
      if maximum == -.infinity { maximum = 0 }  // a fully masked row
      nextMaximum = expRow(
        x + r * n, minus: maximum, into: y, width: n, maximumOf: r + 1 < rows ? x + (r + 1) * n : nil)
      let total = FastMath.sum(UnsafePointer(y), count: n)
      let scale = total > 0 ? 1 / total : 0
      for j in 0..<n { y[j] *= scale }
    }
  }

  @inlinable public static func softmaxGradient(
    _ g: UnsafePointer<Float>, y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, rows: Int,
    width n: Int
  ) {
    for r in 0..<rows {
      let g = g + r * n, y = y + r * n, dx = dx + r * n
      let dot = FastMath.dot(g, y, count: n)
      for j in 0..<n { dx[j] = y[j] * (g[j] - dot) }
    }
  }

  @inlinable public static func logSoftmax(
    _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    var nextMaximum = rows > 0 ? FastMath.maximum(x, count: n) : 0
    for r in 0..<rows {
      let x = x + r * n, y = y + r * n
      let maximum = nextMaximum
      nextMaximum = expRow(x, minus: maximum, into: y, width: n, maximumOf: r + 1 < rows ? x + n : nil)
      let logTotal = maximum + FastMath.log(FastMath.sum(UnsafePointer(y), count: n), using: Arithmetic.self)
      for j in 0..<n { y[j] = x[j] - logTotal }
    }
  }

  @inlinable public static func logSoftmaxGradient(
    _ g: UnsafePointer<Float>, y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, rows: Int,
    width n: Int
  ) {
    for r in 0..<rows {
      let g = g + r * n, y = y + r * n, dx = dx + r * n
      let total = FastMath.sum(g, count: n)
      for j in 0..<n { dx[j] = g[j] - FastMath.exp(y[j], using: Arithmetic.self) * total }
    }
  }

  @inlinable public static func logSumExp(
    _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    // τ = 1 multiplies exactly, so this is the unscaled sum in the same order.
    let e = UnsafeMutablePointer<Float>.allocate(capacity: 1024)
    defer { e.deallocate() }
    for r in 0..<rows { out[r] = scaledLogSumExp(x + r * n, inverseTemperature: 1, width: n, scratch: e) }
  }

  @inlinable public static func crossEntropyGradient(
    _ x: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, offset: Float, scale: Float,
    into dx: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    for r in 0..<rows {
      let x = x + r * n, dx = dx + r * n, shift = logSumExp[r]
      for j in 0..<n { dx[j] = (FastMath.exp(x[j] - shift, using: Arithmetic.self) - offset) * scale }
    }
  }

  /// `log Σ exp(τ·x)` of one row. exp goes to a small scratch block that stays
  /// in L1 (`e` holds 1024); the running sum keeps FastMath.sum's order
  /// (16-lane partials, then the tail) across blocks. (No closure here, e.g.
  /// withUnsafeTemporaryAllocation: a closure in this generic extension is
  /// emitted under one symbol by every KernelSet module.)
  @inlinable @inline(__always) static func scaledLogSumExp(
    _ x: UnsafePointer<Float>, inverseTemperature tau: Float, width n: Int, scratch e: UnsafeMutablePointer<Float>
  ) -> Float {
    let maximum = tau * FastMath.maximum(x, count: n)
    var total = FastMath.PartialSum()
    var start = 0
    while start < n {
      let length = Swift.min(1024, n - start)
      let source = x + start
      for j in 0..<length { e[j] = FastMath.exp(tau * source[j] - maximum, using: Arithmetic.self) }
      if start + length < n {
        total.add(UnsafePointer(e), count: length)
      } else {
        total.finish(UnsafePointer(e), count: length)
      }
      start += length
    }
    return maximum + FastMath.log(total.value, using: Arithmetic.self)
  }

  @inlinable public static func distillation(
    student x: UnsafePointer<Float>, teacher t: UnsafePointer<Float>, inverseTemperature tau: Float,
    studentLogSumExp: UnsafeMutablePointer<Float>, teacherLogSumExp: UnsafeMutablePointer<Float>,
    loss: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    let e = UnsafeMutablePointer<Float>.allocate(capacity: 1024)
    defer { e.deallocate() }
    for r in 0..<rows {
      let x = x + r * n, t = t + r * n
      let ls = scaledLogSumExp(x, inverseTemperature: tau, width: n, scratch: e)
      let lt = scaledLogSumExp(t, inverseTemperature: tau, width: n, scratch: e)
      // Σ p (log p − log q) = Σ p·τ(t − x) + (ls − lt)·Σ p.
      var weighted: Float = 0, mass: Float = 0
      for j in 0..<n {
        let p = FastMath.exp(tau * t[j] - lt, using: Arithmetic.self)
        weighted += p * (t[j] - x[j])
        mass += p
      }
      studentLogSumExp[r] = ls
      teacherLogSumExp[r] = lt
      loss[r] = tau * weighted + (ls - lt) * mass
    }
  }

  @inlinable public static func distillationGradient(
    student x: UnsafePointer<Float>, teacher t: UnsafePointer<Float>, inverseTemperature tau: Float,
    studentLogSumExp: UnsafePointer<Float>, teacherLogSumExp: UnsafePointer<Float>, scale: Float,
    into dx: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    for r in 0..<rows {
      let x = x + r * n, t = t + r * n, dx = dx + r * n
      let ls = studentLogSumExp[r], lt = teacherLogSumExp[r]
      for j in 0..<n {
        let q = FastMath.exp(tau * x[j] - ls, using: Arithmetic.self)
        let p = FastMath.exp(tau * t[j] - lt, using: Arithmetic.self)
        dx[j] = (q - p) * scale
      }
    }
  }
}
