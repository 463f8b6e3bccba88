import TensorKernels

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

  /// Rows per block of the norm backward: each block sums its own weight and
  /// bias gradients, then the blocks are added in order, so the result does
  /// not depend on the thread count.
  private static let normGradientBlock = 32

  /// The fused kernel behind both norms; keeps the per-row mean and 1/σ for backward.
  private func normalized(weight: Tensor?, bias: Tensor?, epsilon: Float, centered: Bool) -> Tensor {
    let n = shape.last ?? 1
    let rows = count / Swift.max(n, 1)
    if let weight { precondition(weight.shape == [n], "norm weight \(weight.shape) must be [\(n)]") }
    if let bias { precondition(bias.shape == [n], "norm bias \(bias.shape) must be [\(n)]") }
    var out = Tensor(uninitializedShape: shape)
    let means = TensorStorage(uninitializedCount: rows)
    let inverseStd = TensorStorage(uninitializedCount: rows)
    let kernels = KernelChoice.active
    let px = storage.pointer, py = out.storage.pointer
    let pw = weight?.storage.pointer, pb = bias?.storage.pointer
    let pm = means.pointer, pr = inverseStd.pointer
    Tensor.forEachRowChunk(rows: rows, width: n) { first, chunk in
      kernels.normalize(
        px + first * n, weight: pw, bias: pb, epsilon: epsilon, centered: centered, into: py + first * n,
        means: pm + first, inverseStd: pr + first, rows: chunk, width: n)
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
      let block = Tensor.normGradientBlock, blocks = (rows + block - 1) / block
      let partialWeight = TensorStorage(count: blocks * n, repeating: 0)
      let partialBias = TensorStorage(count: blocks * n, repeating: 0)
      let pg = g.storage.pointer, px = x.storage.pointer, pd = dx.storage.pointer
      let pw = w?.storage.pointer
      let pdw = partialWeight.pointer, pdb = partialBias.pointer
      parallelChunks(blocks, grain: Swift.max(1, (1 << 14) / Swift.max(n * block, 1))) { range in
        for b in range {
          let first = b * block, offset = first * n
          kernels.normalizeGradient(
            pg + offset, x: px + offset, weight: pw, means: pm + first, inverseStd: pr + first, centered: centered,
            into: pd + offset, weightGradient: pdw + b * n, biasGradient: pdb + b * n,
            rows: Swift.min(block, rows - first), width: n)
        }
      }
      var grads: [Tensor?] = [dx]
      if w != nil { grads.append(Tensor.sumOfBlocks(pdw, blocks: blocks, width: n)) }
      if hasBias { grads.append(Tensor.sumOfBlocks(pdb, blocks: blocks, width: n)) }
      return grads
    }
    return out
  }

  /// `Σ_b partial[b, j]` as a `[width]` tensor, blocks added in order.
  private static func sumOfBlocks(_ partial: UnsafeMutablePointer<Float>, blocks: Int, width: Int) -> Tensor {
    if blocks == 0 { return Tensor.zeros([width]) }
    let total = Tensor(uninitializedShape: [width])
    let out = total.storage.pointer
    out.update(from: partial, count: width)
    for b in 1..<blocks {
      let row = partial + b * width
      for j in 0..<width { out[j] += row[j] }
    }
    return total
  }
}
