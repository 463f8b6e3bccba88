import TensorKernels

extension Tensor {
  /// Splits the last-axis rows of a `width`-wide tensor across threads and calls
  /// `body(firstRow, rowCount)` per chunk.
  @inline(__always)
  static func forEachRowChunk(rows: Int, width: Int, _ body: (Int, Int) -> Void) {
    parallelChunks(rows, grain: Swift.max(1, (1 << 14) / Swift.max(width, 1))) { range in
      body(range.lowerBound, range.count)
    }
  }

  /// Softmax over the last axis, computed stably (max subtracted first).
  public func softmax() -> Tensor {
    let kernels = KernelChoice.active
    // dx = y ⊙ (g − Σ g⊙y)
    return lastAxisKernel(
      { kernels.softmax($0, into: $1, rows: $2, width: $3) },
      gradient: { kernels.softmaxGradient($0, y: $1, into: $2, rows: $3, width: $4) })
  }

  /// log(softmax(x)) over the last axis, computed stably.
  public func logSoftmax() -> Tensor {
    let kernels = KernelChoice.active
    // dx = g − softmax · Σ g
    return lastAxisKernel(
      { kernels.logSoftmax($0, into: $1, rows: $2, width: $3) },
      gradient: { kernels.logSoftmaxGradient($0, y: $1, into: $2, rows: $3, width: $4) })
  }

  /// Runs a row kernel `forward(x, y, rows, width)` over the last axis, in
  /// parallel, and records `gradient(g, y, dx, rows, width)` as its backward.
  private func lastAxisKernel(
    _ forward: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void,
    gradient: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void
  ) -> Tensor {
    var out = Tensor(uninitializedShape: shape)
    let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
    let px = storage.pointer, py = out.storage.pointer
    Tensor.forEachRowChunk(rows: rows, width: n) { first, chunk in forward(px + first * n, py + first * n, chunk, n) }
    let y = out.detached()
    Tensor.record(&out, inputs: [self]) { g in
      let dx = Tensor(uninitializedShape: y.shape)
      let pg = g.storage.pointer, py = y.storage.pointer, pd = dx.storage.pointer
      Tensor.forEachRowChunk(rows: rows, width: n) { first, chunk in
        gradient(pg + first * n, py + first * n, pd + first * n, chunk, n)
      }
      return [dx]
    }
    return out
  }
}
