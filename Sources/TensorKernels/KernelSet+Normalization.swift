/// Layer and RMS norm over rows, and the AdamW update.
extension KernelSet {
  @inlinable public static func normalize(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, epsilon: Float,
    centered: Bool, into y: UnsafeMutablePointer<Float>, means: UnsafeMutablePointer<Float>,
    inverseStd: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    // A row's first pass (Σx, or Σx² without centring) reads it from memory; it
    // runs block by block during the previous row's output loop (see expRow).
    // SIMD reductions: serial accumulation would keep these loops scalar. (No
    // closures or local functions in these generic kernels: see KernelSet.)
    var nextFirstPass: Float = 0
    if rows > 0 { nextFirstPass = centered ? FastMath.sum(x, count: n) : FastMath.sumOfSquares(x, count: n) }
    for r in 0..<rows {
      let x = x + r * n, y = y + r * n
      let mean = centered ? nextFirstPass / Float(n) : 0
      let variance = centered ? FastMath.sumOfSquares(x, count: n, centeredOn: mean) : nextFirstPass
      let inv = 1 / (variance / Float(n) + epsilon).squareRoot()
      means[r] = mean
      inverseStd[r] = inv
      var next = FastMath.PartialSum(squaresAround: centered ? nil : 0)
      var start = 0
      while start < n {
        let length = Swift.min(rowBlock, n - start)
        // The next row's loads go first, so their memory latency overlaps this block's math.
        if r + 1 < rows {
          if start + length < n {
            next.add(x + n + start, count: length)
          } else {
            next.finish(x + n + start, count: length)
          }
        }
        normalizeBlock(
          x + start, weight: weight, bias: bias, offset: start, mean: mean, inverseStd: inv, into: y + start,
          count: length)
        start += length
      }
      nextFirstPass = next.value
    }
  }

  /// `y = (x − mean) · inverseStd · weight + bias` over one block of a row
  /// (`weight` and `bias` from element `offset`).
  @inlinable @inline(__always) static func normalizeBlock(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, offset: Int, mean: Float,
    inverseStd inv: Float, into y: UnsafeMutablePointer<Float>, count n: Int
  ) {
    // One loop per case: optional loads inside the loop would not vectorise.
    switch (weight, bias) {
    case let (w?, b?): for j in 0..<n { y[j] = (x[j] - mean) * inv * w[offset + j] + b[offset + j] }
    case let (w?, nil): for j in 0..<n { y[j] = (x[j] - mean) * inv * w[offset + j] }
    case let (nil, b?): for j in 0..<n { y[j] = (x[j] - mean) * inv + b[offset + j] }
    case (nil, nil): for j in 0..<n { y[j] = (x[j] - mean) * inv }
    }
  }

  @inlinable public static func normalizeGradient(
    _ g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
    means: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>, centered: Bool,
    into dx: UnsafeMutablePointer<Float>, weightGradient: UnsafeMutablePointer<Float>,
    biasGradient: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    for r in 0..<rows {
      let g = g + r * n, x = x + r * n, dx = dx + r * n
      let mean = means[r], inv = inverseStd[r]
      // Σ dy and Σ dy·x̂ with dy = g·w, in 16-lane partials.
      var sumDy = FastMath.Vector(), sumDyXhat = FastMath.Vector()
      var j = 0
      while j + 16 <= n {
        let xhat = (FastMath.load(x + j) - mean) * inv
        var dy = FastMath.load(g + j)
        if let weight { dy = dy * FastMath.load(weight + j) }
        sumDy = sumDy + dy
        sumDyXhat = sumDyXhat + dy * xhat
        j += 16
      }
      var totalDy = FastMath.laneSum(sumDy), totalDyXhat = FastMath.laneSum(sumDyXhat)
      while j < n {
        let xhat = (x[j] - mean) * inv
        var dy = g[j]
        if let weight { dy = dy * weight[j] }
        totalDy = totalDy + dy
        totalDyXhat = totalDyXhat + dy * xhat
        j += 1
      }
      for k in 0..<n {
        weightGradient[k] += g[k] * ((x[k] - mean) * inv)
        biasGradient[k] += g[k]
      }
      let meanDy = centered ? totalDy / Float(n) : 0
      let meanDyXhat = totalDyXhat / Float(n)
      if let w = weight {
        for k in 0..<n { dx[k] = inv * (g[k] * w[k] - meanDy - (x[k] - mean) * inv * meanDyXhat) }
      } else {
        for k in 0..<n { dx[k] = inv * (g[k] - meanDy - (x[k] - mean) * inv * meanDyXhat) }
      }
    }
  }

  @inlinable public static func adamW(
    _ step: AdamWStep, parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
    firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>, count: Int
  ) {
    let (b1, b2, eps, lr) = (step.beta1, step.beta2, step.epsilon, step.learningRate)
    let (decay, correction1, correction2) = (step.decay, step.correction1, step.correction2)
    for i in 0..<count {
      m[i] = b1 * m[i] + (1 - b1) * g[i]
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
      let mHat = m[i] / correction1
      let vHat = v[i] / correction2
      p[i] = p[i] - decay * p[i] - lr * mHat / (vHat.squareRoot() + eps)
    }
  }
}
