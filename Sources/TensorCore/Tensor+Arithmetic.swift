/// A binary elementwise kernel; generic specialisation turns each into a tight loop.
public protocol BinaryKernel {
  static func apply(_ a: Float, _ b: Float) -> Float
}

enum AddKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }

extension Tensor {
  /// Applies `Kernel` to broadcast operands, without recording.
  static func broadcastBinary<Kernel: BinaryKernel>(_ a: Tensor, _ b: Tensor, _: Kernel.Type) -> Tensor {
    let outShape = a.shape == b.shape ? a.shape : Broadcasting.shape(a.shape, b.shape)
    var out = Tensor(uninitializedShape: outShape)
    let n = out.count
    let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
    if a.count == n && b.count == n {
      parallelChunks(n) { range in
        for i in range { po[i] = Kernel.apply(pa[i], pb[i]) }
      }
    } else if b.count == 1 {
      let scalar = pb[0]
      parallelChunks(n) { range in
        for i in range { po[i] = Kernel.apply(pa[i], scalar) }
      }
    } else if a.count == 1 {
      let scalar = pa[0]
      parallelChunks(n) { range in
        for i in range { po[i] = Kernel.apply(scalar, pb[i]) }
      }
    } else if a.count == n && Broadcasting.isTrailingRepeat(b.shape, of: outShape) {
      let inner = b.count
      parallelChunks(n / inner, grain: Swift.max(1, (1 << 15) / inner)) { rows in
        for row in rows {
          let base = row * inner
          for j in 0..<inner { po[base + j] = Kernel.apply(pa[base + j], pb[j]) }
        }
      }
    } else if b.count == n && Broadcasting.isTrailingRepeat(a.shape, of: outShape) {
      let inner = a.count
      parallelChunks(n / inner, grain: Swift.max(1, (1 << 15) / inner)) { rows in
        for row in rows {
          let base = row * inner
          for j in 0..<inner { po[base + j] = Kernel.apply(pa[j], pb[base + j]) }
        }
      }
    } else if n > 0 {
      let stridesA = Broadcasting.strides(of: a.shape, in: outShape)
      let stridesB = Broadcasting.strides(of: b.shape, in: outShape)
      let last = outShape.last ?? 1
      let sa = stridesA.last ?? 0, sb = stridesB.last ?? 0
      let rowShape = outShape.isEmpty ? [1] : outShape
      parallelChunks(n / Swift.max(last, 1), grain: Swift.max(1, (1 << 15) / Swift.max(last, 1))) { rows in
        forEachRow(rowShape, stridesA, stridesB, rows: rows) { row, offsetA, offsetB in
          let base = row * last
          for j in 0..<last { po[base + j] = Kernel.apply(pa[offsetA + j * sa], pb[offsetB + j * sb]) }
        }
      }
    }
    out.node = nil
    return out
  }

  /// `self + other`, broadcasting.
  public func adding(_ other: Tensor) -> Tensor {
    var out = Tensor.broadcastBinary(self, other, AddKernel.self)
    let (sa, sb) = (shape, other.shape)
    Tensor.record(&out, inputs: [self, other]) { g in [g.summed(toShape: sa), g.summed(toShape: sb)] }
    return out
  }

  /// `self - other`, broadcasting.
  public func subtracting(_ other: Tensor) -> Tensor {
    var out = Tensor.broadcastBinary(self, other, SubKernel.self)
    let (sa, sb) = (shape, other.shape)
    Tensor.record(&out, inputs: [self, other]) { g in
      [g.summed(toShape: sa), g.scaled(by: -1).summed(toShape: sb)]
    }
    return out
  }

  /// `self * other` elementwise, broadcasting.
  public func multiplying(_ other: Tensor) -> Tensor {
    var out = Tensor.broadcastBinary(self, other, MulKernel.self)
    let (a, b) = (self.detached(), other.detached())
    Tensor.record(&out, inputs: [self, other]) { g in
      [
        Tensor.broadcastBinary(g, b, MulKernel.self).summed(toShape: a.shape),
        Tensor.broadcastBinary(g, a, MulKernel.self).summed(toShape: b.shape),
      ]
    }
    return out
  }

  /// `self / other` elementwise, broadcasting.
  public func dividing(by other: Tensor) -> Tensor {
    var out = Tensor.broadcastBinary(self, other, DivKernel.self)
    let (a, b) = (self.detached(), other.detached())
    let result = out.detached()
    Tensor.record(&out, inputs: [self, other]) { g in
      let ga = Tensor.broadcastBinary(g, b, DivKernel.self)
      // d(a/b)/db = -(a/b)/b
      let gb = Tensor.broadcastBinary(
        Tensor.broadcastBinary(g, result, MulKernel.self), b, DivKernel.self
      ).scaled(by: -1)
      return [ga.summed(toShape: a.shape), gb.summed(toShape: b.shape)]
    }
    return out
  }

  /// Sums broadcast dimensions away so the result has `target`'s shape
  /// (the backward of broadcasting).
  public func summed(toShape target: [Int]) -> Tensor {
    if shape == target { return self }
    let lead = rank - target.count
    var axes = Array(0..<lead)
    for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
    var reduced = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
    if reduced.shape != target { reduced = reduced.reshaped(target) }
    return reduced
  }

  public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplying(b) }
  public static func / (a: Tensor, b: Tensor) -> Tensor { a.dividing(by: b) }
  public static func + (a: Tensor, b: Float) -> Tensor { a.shifted(by: b) }
  public static func - (a: Tensor, b: Float) -> Tensor { a.shifted(by: -b) }
  public static func * (a: Tensor, b: Float) -> Tensor { a.scaled(by: b) }
  public static func / (a: Tensor, b: Float) -> Tensor { a.scaled(by: 1 / b) }
  public static func + (a: Float, b: Tensor) -> Tensor { b.shifted(by: a) }
  public static func - (a: Float, b: Tensor) -> Tensor { b.scaled(by: -1).shifted(by: a) }
  public static func * (a: Float, b: Tensor) -> Tensor { b.scaled(by: a) }
  public static prefix func - (a: Tensor) -> Tensor { a.scaled(by: -1) }
}
