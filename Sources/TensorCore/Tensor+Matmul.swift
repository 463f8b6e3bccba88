extension Tensor {
  /// Products up to this many multiply-adds run whole on one thread when a
  /// batch has several.
  static let smallProductLimit = 1 << 20

  /// Matrix product over the last two dimensions, broadcasting batch dimensions.
  ///
  /// `self` is `[…, M, K]` (`[…, K, M]` when `transposeA`) and `other` is
  /// `[…, K, N]` (`[…, N, K]` when `transposeB`); the result is `[…, M, N]`.
  /// Transposition is passed to BLAS as a flag, never copied. A batched left
  /// operand times a matrix runs as one large GEMM.
  public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2 operands, got \(shape) and \(other.shape)")
    // [B…, M, K] · [K, N]: fold the batch into M for a single GEMM.
    if rank > 2 && other.rank == 2 && !transposeA {
      let k = shape[rank - 1]
      let folded = reshaped([-1, k]).matmul(other, transposeB: transposeB)
      return folded.reshaped(Array(shape.dropLast()) + [folded.shape[1]])
    }
    let m = transposeA ? shape[rank - 1] : shape[rank - 2]
    let k = transposeA ? shape[rank - 2] : shape[rank - 1]
    let kB = transposeB ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
    let n = transposeB ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
    precondition(k == kB, "matmul inner dimensions differ: \(shape)\(transposeA ? "ᵀ" : "") · \(other.shape)\(transposeB ? "ᵀ" : "")")
    let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
    let batch = batchA == batchB ? batchA : Broadcasting.shape(batchA, batchB)
    let batchCount = batch.reduce(1, *)
    var out = Tensor(uninitializedShape: batch + [m, n])
    let stridesA = Broadcasting.strides(of: batchA, in: batch)
    let stridesB = Broadcasting.strides(of: batchB, in: batch)
    let pa = storage.pointer, pb = other.storage.pointer, pc = out.storage.pointer
    let sizeA = m * k, sizeB = k * n
    let lda = transposeA ? m : k, ldb = transposeB ? k : n
    if k == 0 { pc.update(repeating: 0, count: out.count) }
    func multiply(_ items: Range<Int>, threads: Int) {
      var index = [Int](repeating: 0, count: batch.count)
      for item in items where k > 0 {
        var offsetA = 0, offsetB = 0, rest = item
        for axis in stride(from: batch.count - 1, through: 0, by: -1) {
          index[axis] = rest % batch[axis]
          rest /= batch[axis]
          offsetA += index[axis] * stridesA[axis]
          offsetB += index[axis] * stridesB[axis]
        }
        BLAS.sgemm(
          transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
          alpha: 1, a: pa + offsetA * sizeA, lda: lda, b: pb + offsetB * sizeB, ldb: ldb,
          beta: 0, c: pc + item * m * n, ldc: n, threads: threads)
      }
    }
    // Many small products (attention heads): whole products per thread, each on
    // one thread, instead of every small GEMM split across threads (a
    // synchronisation per product, and a stall whenever a core is busy).
    if batchCount > 1 && ThreadCount.current > 1 && m * n * k <= Tensor.smallProductLimit {
      BLAS.withSingleThreadedLibrary {
        parallelChunks(batchCount, grain: 1) { items in multiply(items, threads: 1) }
      }
    } else {
      multiply(0..<batchCount, threads: ThreadCount.current)
    }
    let a = detached(), b = other.detached()
    // Frozen operands (a teacher's weights) take part without a gradient: skip their product.
    let needsA = requiresGrad, needsB = other.requiresGrad
    Tensor.record(&out, inputs: [self, other]) { g in
      var ga: Tensor?, gb: Tensor?
      switch (transposeA, transposeB) {
      case (false, false):
        if needsA { ga = g.matmul(b, transposeB: true) }
        if needsB { gb = a.matmul(g, transposeA: true) }
      case (false, true):
        if needsA { ga = g.matmul(b) }
        if needsB { gb = g.matmul(a, transposeA: true) }
      case (true, false):
        if needsA { ga = b.matmul(g, transposeB: true) }
        if needsB { gb = a.matmul(g) }
      case (true, true):
        if needsA { ga = b.matmul(g, transposeA: true, transposeB: true) }
        if needsB { gb = g.matmul(a, transposeA: true, transposeB: true) }
      }
      return [ga?.summed(toShape: a.shape), gb?.summed(toShape: b.shape)]
    }
    return out
  }
}
