import TensorKernels

extension Tensor {
  /// Mean cross-entropy of `[N, V]` logits against `targets` (N class indices).
  ///
  /// Targets equal to `ignoreIndex` are skipped; the mean is over counted
  /// targets. With `labelSmoothing` ε the target distribution is
  /// `(1 − ε)·onehot + ε/V`, as in PyTorch's `CrossEntropyLoss`.
  /// Softmax and the loss are fused: the backward is `(softmax − target) / count`.
  public func crossEntropy(targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0) -> Tensor {
    precondition(rank == 2, "crossEntropy expects [N, V] logits, got \(shape)")
    let (rows, classes) = (shape[0], shape[1])
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
    for (r, target) in targets.enumerated() where target != ignoreIndex {
      precondition(target >= 0 && target < classes, "target \(target) out of range 0..<\(classes) at row \(r)")
    }
    let counted = targets.filter { $0 != ignoreIndex }.count
    // Only log Σ exp per row is kept: log p = x − lse is recomputed where
    // needed, in the same Float operations, instead of writing [N, V] log-probabilities.
    let logits = detached(), kernels = KernelChoice.active
    let logSumExp = TensorStorage(uninitializedCount: rows)
    let px = storage.pointer, pl = logSumExp.pointer
    Tensor.forEachRowChunk(rows: rows, width: classes) { first, chunk in
      kernels.logSumExp(px + first * classes, into: pl + first, rows: chunk, width: classes)
    }
    // Row losses in parallel (smoothing reads whole rows), summed in row order.
    var rowLosses = [Double](repeating: 0, count: rows)
    rowLosses.withUnsafeMutableBufferPointer { losses in
      let out = losses.baseAddress!
      Tensor.forEachRowChunk(rows: rows, width: labelSmoothing > 0 ? classes : 1) { first, chunk in
        for r in first..<(first + chunk) where targets[r] != ignoreIndex {
          let row = px + r * classes, logTotal = pl[r]
          var loss = -Double(row[targets[r]] - logTotal) * Double(1 - labelSmoothing)
          if labelSmoothing > 0 {
            var sum: Double = 0
            for j in 0..<classes { sum += Double(row[j] - logTotal) }
            loss -= Double(labelSmoothing) * sum / Double(classes)
          }
          out[r] = loss
        }
      }
    }
    var total: Double = 0
    for (r, target) in targets.enumerated() where target != ignoreIndex { total += rowLosses[r] }
    var out = Tensor(scalar: counted > 0 ? Float(total / Double(counted)) : 0)
    Tensor.record(&out, inputs: [self]) { g in
      let px = logits.storage.pointer, pl = logSumExp.pointer
      let scale = g.item() / Float(Swift.max(counted, 1))
      let offset = labelSmoothing / Float(classes)
      let dx = Tensor(uninitializedShape: [rows, classes])
      let pd = dx.storage.pointer
      Tensor.forEachRowChunk(rows: rows, width: classes) { first, chunk in
        for r in first..<(first + chunk) {
          let d = pd + r * classes
          let target = targets[r]
          if target == ignoreIndex {
            d.update(repeating: 0, count: classes)
            continue
          }
          kernels.crossEntropyGradient(
            px + r * classes, logSumExp: pl + r, offset: offset, scale: scale, into: d, rows: 1, width: classes)
          d[target] -= (1 - labelSmoothing) * scale
        }
      }
      return [dx]
    }
    return out
  }

  /// Distillation loss `T² · KL(softmax(teacher/T) ‖ softmax(self/T))` over the
  /// last axis, averaged over rows (only rows where `rowMask` is 1, if given).
  /// The teacher logits receive no gradient.
  public func klDivergence(teacherLogits: Tensor, temperature: Float = 1, rowMask: [Bool]? = nil) -> Tensor {
    precondition(shape == teacherLogits.shape, "KL: student \(shape) vs teacher \(teacherLogits.shape)")
    let classes = shape.last ?? 1
    let rows = count / Swift.max(classes, 1)
    let mask = rowMask ?? [Bool](repeating: true, count: rows)
    precondition(mask.count == rows, "KL: row mask has \(mask.count) entries for \(rows) rows")
    let counted = Swift.max(mask.filter { $0 }.count, 1)
    // Fused: only each row's two log Σ exp are kept; the probabilities are
    // recomputed in the backward instead of writing four [N, V] tensors.
    let student = detached(), teacher = teacherLogits.detached(), kernels = KernelChoice.active
    let tau = 1 / temperature
    let studentLSE = TensorStorage(uninitializedCount: rows), teacherLSE = TensorStorage(uninitializedCount: rows)
    var rowLosses = [Float](repeating: 0, count: rows)
    let px = student.storage.pointer, pt = teacher.storage.pointer
    rowLosses.withUnsafeMutableBufferPointer { losses in
      let out = losses.baseAddress!
      Tensor.forEachRowChunk(rows: rows, width: classes) { first, chunk in
        kernels.distillation(
          student: px + first * classes, teacher: pt + first * classes, inverseTemperature: tau,
          studentLogSumExp: studentLSE.pointer + first, teacherLogSumExp: teacherLSE.pointer + first, loss: out + first,
          rows: chunk, width: classes)
      }
    }
    var total: Double = 0
    for r in 0..<rows where mask[r] { total += Double(rowLosses[r]) }
    var out = Tensor(scalar: Float(total) * temperature * temperature / Float(counted))
    Tensor.record(&out, inputs: [self]) { g in
      // d/dx of T²·KL / counted is T·(q − p) / counted on counted rows.
      let scale = g.item() * temperature / Float(counted)
      let dx = Tensor(uninitializedShape: student.shape)
      let pd = dx.storage.pointer, px = student.storage.pointer, pt = teacher.storage.pointer
      Tensor.forEachRowChunk(rows: rows, width: classes) { first, chunk in
        for r in first..<(first + chunk) {
          let offset = r * classes
          guard mask[r] else {
            (pd + offset).update(repeating: 0, count: classes)
            continue
          }
          kernels.distillationGradient(
            student: px + offset, teacher: pt + offset, inverseTemperature: tau, studentLogSumExp: studentLSE.pointer + r,
            teacherLogSumExp: teacherLSE.pointer + r, scale: scale, into: pd + offset, rows: 1, width: classes)
        }
      }
      return [dx]
    }
    return out
  }

  /// Mean squared error.
  public func meanSquaredError(_ target: Tensor) -> Tensor {
    let difference = subtracting(target)
    return difference.multiplying(difference).mean()
  }

  /// Cosine similarity along the last axis (`[…, C]` → `[…]`).
  public func cosineSimilarity(_ other: Tensor, epsilon: Float = 1e-8) -> Tensor {
    let dot = multiplying(other).sum(axes: [-1])
    let normA = multiplying(self).sum(axes: [-1]).shifted(by: epsilon * epsilon).sqrt()
    let normB = other.multiplying(other).sum(axes: [-1]).shifted(by: epsilon * epsilon).sqrt()
    return dot.dividing(by: normA.multiplying(normB))
  }

  /// Inverted dropout: zeroes elements with probability `rate` and scales the
  /// rest by `1 / (1 − rate)`, with a mask drawn from `generator`.
  public func dropout(rate: Float, using generator: inout SeededRandom) -> Tensor {
    precondition(rate >= 0 && rate < 1, "dropout rate \(rate) must be in [0, 1)")
    if rate == 0 { return self }
    // One pass draws the mask (1/(1 − rate) or 0, as a 0/1 mask scaled
    // afterwards would hold) and writes the product; threads start from
    // copies of the generator advanced to their first element, so the mask is
    // the serial one.
    let keep = 1 - rate, kept = 1 / (1 - rate)
    let mask = Tensor(uninitializedShape: shape)
    var out = Tensor(uninitializedShape: shape)
    let px = storage.pointer, pm = mask.storage.pointer, po = out.storage.pointer
    let start = generator
    parallelChunks(count, grain: 1 << 15) { range in
      var local = start.advanced(by: UInt64(range.lowerBound))
      let (mask, input, output) = (pm + range.lowerBound, px + range.lowerBound, po + range.lowerBound)
      local.forEachUInt32(range.count) { i, bits in
        let m: Float = SeededRandom.unitFloat(bits) < keep ? kept : 0
        mask[i] = m
        output[i] = input[i] * m
      }
    }
    generator.advance(by: UInt64(count))
    Tensor.record(&out, inputs: [self]) { g in [Tensor.broadcastBinary(g, mask, MulKernel.self)] }
    return out
  }
}
