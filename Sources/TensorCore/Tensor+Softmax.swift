extension Tensor {
  /// Calls `body(input, output)` with the pointers of each last-axis row.
  @inline(__always)
  func forEachLastAxisRow(
    into out: inout Tensor, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
  ) {
    let n = shape.last ?? 1
    let rows = count / Swift.max(n, 1)
    let src = storage.pointer, dst = out.storage.pointer
    parallelChunks(rows, grain: Swift.max(1, (1 << 14) / Swift.max(n, 1))) { range in
      for r in range { body(src + r * n, dst + r * n, n) }
    }
  }

  /// A row-wise backward: `body(g, y, dx, n)` fills each last-axis row of the
  /// input gradient from the output gradient `g` and the saved output `y`.
  @inline(__always)
  static func lastAxisGradient(
    _ g: Tensor, _ y: Tensor,
    _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
  ) -> Tensor {
    let dx = Tensor(uninitializedShape: y.shape)
    let n = y.shape.last ?? 1
    let pg = g.storage.pointer, py = y.storage.pointer, pd = dx.storage.pointer
    parallelChunks(y.count / Swift.max(n, 1), grain: Swift.max(1, (1 << 14) / Swift.max(n, 1))) { range in
      for r in range { body(pg + r * n, py + r * n, pd + r * n, n) }
    }
    return dx
  }

  /// Softmax over the last axis, computed stably (max subtracted first).
  public func softmax() -> Tensor {
    var out = Tensor(uninitializedShape: shape)
    forEachLastAxisRow(into: &out) { x, y, n in
      // A plain map, then SIMD reductions: accumulating inside the exp loop would stop vectorisation.
      var maximum = FastMath.maximum(x, count: n)
      if maximum == -.infinity { maximum = 0 }  // a fully masked row
      for j in 0..<n { y[j] = FastMath.exp(x[j] - maximum) }
      let total = FastMath.sum(y, count: n)
      let scale = total > 0 ? 1 / total : 0
      for j in 0..<n { y[j] *= scale }
    }
    let y = out.detached()
    Tensor.record(&out, inputs: [self]) { g in
      // dx = y ⊙ (g − Σ g⊙y)
      [Tensor.lastAxisGradient(g, y) { g, y, dx, n in
        let dot = FastMath.dot(g, y, count: n)
        for j in 0..<n { dx[j] = y[j] * (g[j] - dot) }
      }]
    }
    return out
  }

  /// log(softmax(x)) over the last axis, computed stably.
  public func logSoftmax() -> Tensor {
    var out = Tensor(uninitializedShape: shape)
    forEachLastAxisRow(into: &out) { x, y, n in
      let maximum = FastMath.maximum(x, count: n)
      for j in 0..<n { y[j] = FastMath.exp(x[j] - maximum) }
      let logTotal = maximum + FastMath.log(FastMath.sum(y, count: n))
      for j in 0..<n { y[j] = x[j] - logTotal }
    }
    let y = out.detached()
    Tensor.record(&out, inputs: [self]) { g in
      // dx = g − softmax · Σ g
      [Tensor.lastAxisGradient(g, y) { g, y, dx, n in
        let total = FastMath.sum(g, count: n)
        for j in 0..<n { dx[j] = g[j] - FastMath.exp(y[j]) * total }
      }]
    }
    return out
  }
}
