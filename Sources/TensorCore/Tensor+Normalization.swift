extension Tensor {
  /// Layer normalisation over the last axis: `(x − μ) / √(σ² + ε) · weight + bias`.
  /// `weight` and `bias` are `[C]` (either may be nil).
  public func layerNorm(weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    normalized(weight: weight, bias: bias, epsilon: epsilon, centered: true)
  }

  /// Root-mean-square normalisation over the last axis, as in T5:
  /// `x / √(mean(x²) + ε) · weight` (no centring, no bias).
  public func rmsNorm(weight: Tensor?, epsilon: Float = 1e-6) -> Tensor {
    normalized(weight: weight, bias: nil, epsilon: epsilon, centered: false)
  }

  /// The fused kernel behind both norms; keeps the per-row mean and 1/σ for backward.
  private func normalized(weight: Tensor?, bias: Tensor?, epsilon: Float, centered: Bool) -> Tensor {
    let n = shape.last ?? 1
    let rows = count / Swift.max(n, 1)
    if let weight { precondition(weight.shape == [n], "norm weight \(weight.shape) must be [\(n)]") }
    if let bias { precondition(bias.shape == [n], "norm bias \(bias.shape) must be [\(n)]") }
    var out = Tensor(uninitializedShape: shape)
    let means = TensorStorage(count: rows, repeating: 0)
    let inverseStd = TensorStorage(count: rows, repeating: 0)
    let px = storage.pointer, py = out.storage.pointer
    let pw = weight?.storage.pointer, pb = bias?.storage.pointer
    let pm = means.pointer, pr = inverseStd.pointer
    parallelChunks(rows, grain: Swift.max(1, (1 << 14) / Swift.max(n, 1))) { range in
      for r in range {
        let x = px + r * n, y = py + r * n
        // SIMD reductions: serial accumulation would keep these loops scalar.
        let mean = centered ? FastMath.sum(x, count: n) / Float(n) : 0
        let variance = FastMath.sumOfSquares(x, count: n, centeredOn: mean)
        let inv = 1 / (variance / Float(n) + epsilon).squareRoot()
        pm[r] = mean
        pr[r] = inv
        for j in 0..<n {
          var v = (x[j] - mean) * inv
          if let pw { v *= pw[j] }
          if let pb { v += pb[j] }
          y[j] = v
        }
      }
    }
    let x = detached(), w = weight?.detached()
    let hasBias = bias != nil
    var inputs = [self]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    Tensor.record(&out, inputs: inputs) { g in
      // Pointers are taken here from the captured owners, never captured bare.
      let pm = means.pointer, pr = inverseStd.pointer
      let dx = Tensor(uninitializedShape: x.shape)
      let dw = TensorStorage(count: n, repeating: 0)
      let db = TensorStorage(count: n, repeating: 0)
      let pg = g.storage.pointer, px = x.storage.pointer, pd = dx.storage.pointer
      let pw = w?.storage.pointer
      for r in 0..<rows {
        let gr = pg + r * n, xr = px + r * n, dr = pd + r * n
        let mean = pm[r], inv = pr[r]
        var sumDy: Float = 0, sumDyXhat: Float = 0
        for j in 0..<n {
          let xhat = (xr[j] - mean) * inv
          let dy = pw.map { gr[j] * $0[j] } ?? gr[j]
          sumDy += dy
          sumDyXhat += dy * xhat
          dw.pointer[j] += gr[j] * xhat
          db.pointer[j] += gr[j]
        }
        let meanDy = centered ? sumDy / Float(n) : 0
        let meanDyXhat = sumDyXhat / Float(n)
        for j in 0..<n {
          let xhat = (xr[j] - mean) * inv
          let dy = pw.map { gr[j] * $0[j] } ?? gr[j]
          dr[j] = inv * (dy - meanDy - xhat * meanDyXhat)
        }
      }
      var grads: [Tensor?] = [dx]
      if w != nil { grads.append(Tensor(shape: [n], storage: dw)) }
      if hasBias { grads.append(Tensor(shape: [n], storage: db)) }
      return grads
    }
    return out
  }
}
