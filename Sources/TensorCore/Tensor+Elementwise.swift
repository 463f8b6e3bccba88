import Foundation

/// A unary elementwise function with its derivative, written in terms of the
/// input `x` and the output `y` (whichever is cheaper).
public protocol UnaryKernel {
  static func forward(_ x: Float) -> Float
  static func derivative(x: Float, y: Float) -> Float
}

enum ExpKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { FastMath.exp(x) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { y }
}
enum LogKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { FastMath.log(x) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 1 / x }
}
enum SqrtKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { x.squareRoot() }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 0.5 / y }
}
enum RsqrtKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { 1 / x.squareRoot() }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { -0.5 * y * y * y }
}
enum TanhKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { FastMath.tanh(x) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 1 - y * y }
}
enum SigmoidKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { 1 / (1 + FastMath.exp(-x)) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { y * (1 - y) }
}
enum ReluKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { x > 0 ? x : 0 }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { x > 0 ? 1 : 0 }
}
enum SiluKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { x / (1 + FastMath.exp(-x)) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float {
    let s = 1 / (1 + FastMath.exp(-x))
    return s * (1 + x * (1 - s))
  }
}
/// GELU with the exact Gaussian CDF: `x · Φ(x)` (BART, `"gelu"`).
enum GeluErfKernel: UnaryKernel {
  @inline(__always) static func forward(_ x: Float) -> Float { 0.5 * x * (1 + FastMath.erf(x * 0.70710678118654752)) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float {
    let cdf = 0.5 * (1 + FastMath.erf(x * 0.70710678118654752))
    let pdf = 0.39894228040143268 * FastMath.exp(-0.5 * x * x)
    return cdf + x * pdf
  }
}
/// GELU with the tanh approximation (T5 v1.1, `"gelu_new"`).
enum GeluTanhKernel: UnaryKernel {
  static let c: Float = 0.79788456080286536  // sqrt(2/pi)
  @inline(__always) static func forward(_ x: Float) -> Float {
    0.5 * x * (1 + FastMath.tanh(c * (x + 0.044715 * x * x * x)))
  }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float {
    let t = FastMath.tanh(c * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
  }
}

/// The two GELU forms found in checkpoints.
public enum GeluApproximation: Sendable {
  /// `x · Φ(x)` with `erf`.
  case none
  /// `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
  case tanh
}

extension Tensor {
  /// Applies `transform` to every element into a new tensor (no recording).
  @inline(__always)
  func mapValues(_ transform: (Float) -> Float) -> Tensor {
    var out = Tensor(uninitializedShape: shape)
    let source = storage.pointer, target = out.storage.pointer
    parallelChunks(count, grain: 1 << 14) { range in
      for i in range { target[i] = transform(source[i]) }
    }
    out.node = nil
    return out
  }

  func applying<Kernel: UnaryKernel>(_: Kernel.Type) -> Tensor {
    // The kernel is called statically (not through a closure) so the loop vectorises.
    var out = Tensor(uninitializedShape: shape)
    let source = storage.pointer, target = out.storage.pointer
    parallelChunks(count, grain: 1 << 14) { range in
      for i in range { target[i] = Kernel.forward(source[i]) }
    }
    let x = detached(), y = out.detached()
    Tensor.record(&out, inputs: [self]) { g in
      var dx = Tensor(uninitializedShape: x.shape)
      let pg = g.storage.pointer, px = x.storage.pointer, py = y.storage.pointer
      let pd = dx.storage.pointer
      parallelChunks(x.count, grain: 1 << 14) { range in
        for i in range { pd[i] = pg[i] * Kernel.derivative(x: px[i], y: py[i]) }
      }
      dx.node = nil
      return [dx]
    }
    return out
  }

  /// `self · factor`.
  public func scaled(by factor: Float) -> Tensor {
    var out = mapValues { $0 * factor }
    Tensor.record(&out, inputs: [self]) { g in [g.mapValues { $0 * factor }] }
    return out
  }

  /// `self + offset`.
  public func shifted(by offset: Float) -> Tensor {
    var out = mapValues { $0 + offset }
    Tensor.record(&out, inputs: [self]) { g in [g] }
    return out
  }

  /// `-self`.
  public func negated() -> Tensor { scaled(by: -1) }
  /// eˣ.
  public func exp() -> Tensor { applying(ExpKernel.self) }
  /// Natural logarithm.
  public func log() -> Tensor { applying(LogKernel.self) }
  /// √x.
  public func sqrt() -> Tensor { applying(SqrtKernel.self) }
  /// 1/√x.
  public func rsqrt() -> Tensor { applying(RsqrtKernel.self) }
  /// Hyperbolic tangent.
  public func tanh() -> Tensor { applying(TanhKernel.self) }
  /// Logistic sigmoid.
  public func sigmoid() -> Tensor { applying(SigmoidKernel.self) }
  /// max(x, 0).
  public func relu() -> Tensor { applying(ReluKernel.self) }
  /// x · sigmoid(x).
  public func silu() -> Tensor { applying(SiluKernel.self) }
  /// Gaussian error linear unit.
  public func gelu(approximation: GeluApproximation = .none) -> Tensor {
    switch approximation {
    case .none: applying(GeluErfKernel.self)
    case .tanh: applying(GeluTanhKernel.self)
    }
  }

  /// xᵖ for a constant exponent.
  public func pow(_ exponent: Float) -> Tensor {
    var out = mapValues { Foundation.pow($0, exponent) }
    let x = detached()
    Tensor.record(&out, inputs: [self]) { g in
      let slope = x.mapValues { exponent * Foundation.pow($0, exponent - 1) }
      return [Tensor.broadcastBinary(g, slope, MulKernel.self)]
    }
    return out
  }
}
