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
    let counted = targets.filter { $0 != ignoreIndex }.count
    let logProbabilities = withoutGradient { logSoftmax() }
    let lp = logProbabilities.storage.pointer
    var total: Double = 0
    for (r, target) in targets.enumerated() where target != ignoreIndex {
      precondition(target >= 0 && target < classes, "target \(target) out of range 0..<\(classes) at row \(r)")
      let row = lp + r * classes
      var loss = -Double(row[target]) * Double(1 - labelSmoothing)
      if labelSmoothing > 0 {
        var sum: Double = 0
        for j in 0..<classes { sum += Double(row[j]) }
        loss -= Double(labelSmoothing) * sum / Double(classes)
      }
      total += loss
    }
    var out = Tensor(scalar: counted > 0 ? Float(total / Double(counted)) : 0)
    Tensor.record(&out, inputs: [self]) { g in
      let lp = logProbabilities.storage.pointer
      let scale = g.item() / Float(Swift.max(counted, 1))
      let dx = Tensor.zeros([rows, classes])
      let pd = dx.storage.pointer
      for (r, target) in targets.enumerated() where target != ignoreIndex {
        let row = lp + r * classes, d = pd + r * classes
        for j in 0..<classes { d[j] = (FastMath.exp(row[j]) - labelSmoothing / Float(classes)) * scale }
        d[target] -= (1 - labelSmoothing) * scale
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
    let maskTensor = Tensor(mask.map { $0 ? 1 : 0 }, shape: Array(shape.dropLast()) + [1])
    let teacherLog = withoutGradient { teacherLogits.detached().scaled(by: 1 / temperature).logSoftmax() }
    let teacherProb = withoutGradient { teacherLog.exp() }
    let studentLog = scaled(by: 1 / temperature).logSoftmax()
    // Σ p_t (log p_t − log p_s), masked rows only.
    let perElement = (teacherLog.subtracting(studentLog)).multiplying(teacherProb).multiplying(maskTensor)
    return perElement.sum().scaled(by: temperature * temperature / Float(counted))
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
    let mask = Tensor.bernoulliMask(shape, keepProbability: 1 - rate, using: &generator)
    return multiplying(mask.scaled(by: 1 / (1 - rate)))
  }
}
