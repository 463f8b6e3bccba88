extension Tensor {
  /// The same elements in a new shape; one dimension may be -1 (inferred).
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var out = reshapedWithoutRecording(newShape)
    let original = shape
    Tensor.record(&out, inputs: [self]) { g in [g.reshapedWithoutRecording(original)] }
    return out
  }

  func reshapedWithoutRecording(_ newShape: [Int]) -> Tensor {
    var resolved = newShape
    if let unknown = newShape.firstIndex(of: -1) {
      let known = newShape.filter { $0 != -1 }.reduce(1, *)
      precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
      resolved[unknown] = count / known
    }
    precondition(Tensor.elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
    var out = self
    out.shape = resolved
    out.node = nil
    return out
  }

  /// Reorders dimensions: result dimension `i` is input dimension `order[i]`.
  public func permuted(_ order: [Int]) -> Tensor {
    precondition(order.sorted() == Array(0..<rank), "invalid permutation \(order) for shape \(shape)")
    var out = permutedWithoutRecording(order)
    var inverse = [Int](repeating: 0, count: rank)
    for (i, o) in order.enumerated() { inverse[o] = i }
    Tensor.record(&out, inputs: [self]) { g in [g.permutedWithoutRecording(inverse)] }
    return out
  }

  func permutedWithoutRecording(_ order: [Int]) -> Tensor {
    if order == Array(0..<rank) { return detached() }
    let outShape = order.map { shape[$0] }
    let out = Tensor(uninitializedShape: outShape)
    var inputStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { inputStrides[i] = inputStrides[i + 1] * shape[i + 1] }
    let gathered = order.map { inputStrides[$0] }
    let src = storage.pointer, dst = out.storage.pointer
    let last = outShape.last ?? 1
    let lastStride = gathered.last ?? 1
    let rows = count / Swift.max(last, 1)
    parallelChunks(rows, grain: Swift.max(1, (1 << 15) / Swift.max(last, 1))) { chunk in
      forEachRow(outShape, gathered, gathered, rows: chunk) { row, offset, _ in
        let target = dst + row * last
        if lastStride == 1 {
          target.update(from: src + offset, count: last)
        } else {
          for j in 0..<last { target[j] = src[offset + j * lastStride] }
        }
      }
    }
    return out
  }

  /// Swaps two dimensions.
  public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
    let a = first < 0 ? first + rank : first, b = second < 0 ? second + rank : second
    var order = Array(0..<rank)
    order.swapAt(a, b)
    return permuted(order)
  }

  /// Elements `range` along `axis`.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let a = axis < 0 ? axis + rank : axis
    precondition(range.lowerBound >= 0 && range.upperBound <= shape[a], "slice \(range) out of range for axis \(axis) of \(shape)")
    let outer = shape[..<a].reduce(1, *)
    let inner = shape[(a + 1)...].reduce(1, *)
    var outShape = shape
    outShape[a] = range.count
    var out = Tensor(uninitializedShape: outShape)
    let src = storage.pointer, dst = out.storage.pointer
    let block = range.count * inner
    for o in 0..<outer {
      (dst + o * block).update(from: src + (o * shape[a] + range.lowerBound) * inner, count: block)
    }
    let inputShape = shape
    Tensor.record(&out, inputs: [self]) { g in
      let dx = Tensor.zeros(inputShape)
      let pg = g.storage.pointer, pd = dx.storage.pointer
      for o in 0..<outer {
        (pd + (o * inputShape[a] + range.lowerBound) * inner).update(from: pg + o * block, count: block)
      }
      return [dx]
    }
    return out
  }

  /// Joins tensors along an existing axis.
  public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat needs at least one tensor")
    let first = tensors[0]
    let a = axis < 0 ? axis + first.rank : axis
    for t in tensors {
      precondition(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == a || $0.element == first.shape[$0.offset] },
                   "concat: shape \(t.shape) does not match \(first.shape) off axis \(axis)")
    }
    let sizes = tensors.map { $0.shape[a] }
    var outShape = first.shape
    outShape[a] = sizes.reduce(0, +)
    let outer = first.shape[..<a].reduce(1, *)
    let inner = first.shape[(a + 1)...].reduce(1, *)
    var out = Tensor(uninitializedShape: outShape)
    let dst = out.storage.pointer
    let rowSize = outShape[a] * inner
    var offset = 0
    for t in tensors {
      let block = t.shape[a] * inner
      let src = t.storage.pointer
      for o in 0..<outer { (dst + o * rowSize + offset).update(from: src + o * block, count: block) }
      offset += block
    }
    Tensor.record(&out, inputs: tensors) { g in
      var start = 0
      return sizes.map { size in
        defer { start += size }
        return withoutGradient { g.slice(axis: a, start..<(start + size)) }
      }
    }
    return out
  }

  /// Stacks same-shaped tensors along a new axis.
  public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    precondition(!tensors.isEmpty, "stack needs at least one tensor")
    let rank = tensors[0].rank + 1
    let a = axis < 0 ? axis + rank : axis
    let expanded = tensors.map { t -> Tensor in
      var s = t.shape
      s.insert(1, at: a)
      return t.reshaped(s)
    }
    return concat(expanded, axis: a)
  }

  /// Rows of a `[N, C]` table picked by `indices`, shaped `indexShape + [C]`
  /// (embedding lookup). The gradient scatters back, adding for repeats; the
  /// row `frozenRow` (a padding token's) gets no gradient from the lookup.
  public func gatherRows(_ indices: [Int], indexShape: [Int]? = nil, frozenRow: Int? = nil) -> Tensor {
    precondition(rank == 2, "gatherRows needs a [N, C] table, shape is \(shape)")
    let (rows, width) = (shape[0], shape[1])
    let outShape = (indexShape ?? [indices.count]) + [width]
    precondition(Tensor.elementCount(outShape) == indices.count * width, "index shape does not match \(indices.count) indices")
    var out = Tensor(uninitializedShape: outShape)
    let src = storage.pointer, dst = out.storage.pointer
    for (i, index) in indices.enumerated() {
      precondition(index >= 0 && index < rows, "index \(index) out of range 0..<\(rows)")
      (dst + i * width).update(from: src + index * width, count: width)
    }
    let tableShape = shape
    Tensor.record(&out, inputs: [self]) { g in
      let dx = Tensor.zeros(tableShape)
      let pg = g.storage.pointer, pd = dx.storage.pointer
      for (i, index) in indices.enumerated() where index != frozenRow {
        let target = pd + index * width, source = pg + i * width
        for j in 0..<width { target[j] += source[j] }
      }
      return [dx]
    }
    return out
  }

  /// `condition ? self : other` elementwise; `condition` holds 0 or 1 and broadcasts.
  public func selecting(where condition: Tensor, otherwise other: Tensor) -> Tensor {
    let keep = condition.detached()
    let drop = keep.mapValues { 1 - $0 }
    return self.multiplying(keep) + other.multiplying(drop)
  }

  /// Replaces elements where `mask` (0 or 1, broadcast) is 1 with `value`.
  /// Gradients flow only through the elements kept.
  public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
    let outShape = Broadcasting.shape(shape, mask.shape)
    precondition(outShape == shape, "mask \(mask.shape) must broadcast to \(shape)")
    let keep = mask.detached().mapValues { $0 != 0 ? 0 : 1 }
    var filled = Tensor.broadcastBinary(self.detached(), keep, MulKernel.self)
    let fill = keep.mapValues { $0 == 0 ? value : 0 }
    filled = Tensor.broadcastBinary(filled, fill, AddKernel.self)
    // -inf · 0 would give NaN above, so write masked positions directly.
    if !value.isFinite {
      let stridesM = Broadcasting.strides(of: keep.shape, in: shape)
      let pk = keep.storage.pointer, pf = filled.storage.pointer
      let last = shape.last ?? 1, sm = stridesM.last ?? 0
      forEachRow(shape.isEmpty ? [1] : shape, stridesM, stridesM) { row, offset, _ in
        for j in 0..<last where pk[offset + j * sm] == 0 { pf[row * last + j] = value }
      }
    }
    var out = filled
    let inputShape = shape
    Tensor.record(&out, inputs: [self]) { g in
      [Tensor.broadcastBinary(g, keep, MulKernel.self).summed(toShape: inputShape)]
    }
    return out
  }
}
