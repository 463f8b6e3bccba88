/// Layer and RMS norm over rows, and the AdamW update.
extension KernelSet {
  @inlinable public static func normalize(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, epsilon: Float,
    centered: Bool, into y: UnsafeMutablePointer<Float>, means: UnsafeMutablePointer<Float>,
    inverseStd: UnsafeMutablePointer<Float>, rows: Int, width n: Int
  ) {
    for r in 0..<rows {
      let x = x + r * n, y = y + r * n
      // SIMD reductions: serial accumulation would keep these loops scalar.
      let mean = centered ? FastMath.sum(x, count: n) / Float(n) : 0
      let variance = FastMath.sumOfSquares(x, count: n, centeredOn: mean)
      let inv = 1 / (variance / Float(n) + epsilon).squareRoot()
      means[r] = mean
      inverseStd[r] = inv
      // One loop per case: optional loads inside the loop would not vectorise.
      switch (weight, bias) {
      case let (w?, b?): for j in 0..<n { y[j] = (x[j] - mean) * inv * w[j] + b[j] }
      case let (w?, nil): for j in 0..<n { y[j] = (x[j] - mean) * inv * w[j] }
      case let (nil, b?): for j in 0..<n { y[j] = (x[j] - mean) * inv + b[j] }
      case (nil, nil): for j in 0..<n { y[j] = (x[j] - mean) * inv }
      }
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
      // Σ dy and Σ dy·x̂ with dy = g·w, in 8-lane partials.
      var sumDy = SIMD8<Float>(), sumDyXhat = SIMD8<Float>()
      var j = 0
      while j + 8 <= n {
        let xhat = (FastMath.load8(x + j) - mean) * inv
        let dy = weight.map { FastMath.load8(g + j) * FastMath.load8($0 + j) } ?? FastMath.load8(g + j)
        sumDy = sumDy + dy
        sumDyXhat = sumDyXhat + dy * xhat
        j += 8
      }
      var totalDy = sumDy.sum(), totalDyXhat = sumDyXhat.sum()
      while j < n {
        let xhat = (x[j] - mean) * inv
        let dy = weight.map { g[j] * $0[j] } ?? g[j]
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
