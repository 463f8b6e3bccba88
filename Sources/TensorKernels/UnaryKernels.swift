/// A unary elementwise function with its derivative, written in terms of the
/// input `x` and the output `y` (whichever is cheaper).
public protocol UnaryKernel {
  static func forward(_ x: Float) -> Float
  static func derivative(x: Float, y: Float) -> Float
}

/// The unary functions that have a kernel, named so a caller can pick the
/// kernel at run time (``KernelSet/apply(_:_:_:count:)``).
public enum UnaryFunction: Sendable, CaseIterable {
  case exp, log, sqrt, rsqrt, tanh, sigmoid, relu, silu
  /// GELU with the exact Gaussian CDF: `x · Φ(x)` (BART, `"gelu"`).
  case geluErf
  /// GELU with the tanh approximation (T5 v1.1, `"gelu_new"`).
  case geluTanh
}

public enum ExpKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { FastMath.exp(x) }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { y }
}
public enum LogKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { FastMath.log(x) }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { 1 / x }
}
public enum SqrtKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { x.squareRoot() }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { 0.5 / y }
}
public enum RsqrtKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { 1 / x.squareRoot() }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { -0.5 * y * y * y }
}
public enum TanhKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { FastMath.tanh(x) }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { 1 - y * y }
}
public enum SigmoidKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { 1 / (1 + FastMath.exp(-x)) }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { y * (1 - y) }
}
public enum ReluKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { x > 0 ? x : 0 }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float { x > 0 ? 1 : 0 }
}
public enum SiluKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float { x / (1 + FastMath.exp(-x)) }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float {
    let s = 1 / (1 + FastMath.exp(-x))
    return s * (1 + x * (1 - s))
  }
}
/// `x · Φ(x) = 0.5x(1 + erf(x/√2))`.
public enum GeluErfKernel: UnaryKernel {
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float {
    0.5 * x * (1 + FastMath.erf(x * 0.70710678118654752))
  }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float {
    let cdf = 0.5 * (1 + FastMath.erf(x * 0.70710678118654752))
    let pdf = 0.39894228040143268 * FastMath.exp(-0.5 * x * x)
    return cdf + x * pdf
  }
}
/// `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
public enum GeluTanhKernel: UnaryKernel {
  @inlinable @inline(__always) static var c: Float { 0.79788456080286536 }  // sqrt(2/pi)
  @inlinable @inline(__always) public static func forward(_ x: Float) -> Float {
    0.5 * x * (1 + FastMath.tanh(c * (x + 0.044715 * x * x * x)))
  }
  @inlinable @inline(__always) public static func derivative(x: Float, y: Float) -> Float {
    let t = FastMath.tanh(c * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
  }
}
