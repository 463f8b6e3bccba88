/// A unary elementwise function with its derivative, written in terms of the
/// input `x` and the output `y` (whichever is cheaper), for a ``MultiplyAdd``.
public protocol UnaryKernel {
  static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float
  static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float
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
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    FastMath.exp(x, using: m)
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    y
  }
}
public enum LogKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    FastMath.log(x, using: m)
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    1 / x
  }
}
public enum SqrtKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    x.squareRoot()
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    0.5 / y
  }
}
public enum RsqrtKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    1 / x.squareRoot()
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    -0.5 * y * y * y
  }
}
public enum TanhKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    FastMath.tanh(x, using: m)
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    1 - y * y
  }
}
public enum SigmoidKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    1 / (1 + FastMath.exp(-x, using: m))
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    y * (1 - y)
  }
}
public enum ReluKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    x > 0 ? x : 0
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    x > 0 ? 1 : 0
  }
}
public enum SiluKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    x / (1 + FastMath.exp(-x, using: m))
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    let s = 1 / (1 + FastMath.exp(-x, using: m))
    return s * (1 + x * (1 - s))
  }
}
/// `x · Φ(x) = 0.5x(1 + erf(x/√2))`.
public enum GeluErfKernel: UnaryKernel {
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    0.5 * x * (1 + FastMath.erf(x * 0.70710678118654752, using: m))
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    let cdf = 0.5 * (1 + FastMath.erf(x * 0.70710678118654752, using: m))
    let pdf = 0.39894228040143268 * FastMath.exp(-0.5 * x * x, using: m)
    return cdf + x * pdf
  }
}
/// `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`, computed as `x · σ(2u)` with
/// `u = √(2/π)(x + 0.044715x³)`, since `(1 + tanh u) / 2 = 1 / (1 + e^(−2u))`:
/// one exponential and one division, and no cancellation for negative x.
public enum GeluTanhKernel: UnaryKernel {
  /// `e^(−2u)`, clamped to [e^−87, e^88] so it stays a finite normal (the
  /// quotient is then within 1e-36 of its limit) and no special cases are needed.
  @inlinable @inline(__always) static func decay<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    // −2u = x · (−2√(2/π) − 2√(2/π)·0.044715 · x²): one multiply-add.
    let minusTwoU = x * M.multiplyAdd(-0.071_354_816_272_600_25, x * x, -1.595_769_121_605_730_8)
    return FastMath.expInRange(FastMath.clamp(minusTwoU, -87, 88), m)
  }
  /// `x` limited to `-20...` (or `-20...20`): beyond ±20 the results below
  /// are exact to Float precision anyway, and x³ or x² can no longer
  /// overflow. NaN passes through.
  @inlinable @inline(__always) static func limited(_ x: Float, upper: Float = .infinity) -> Float {
    let low = x < -20 ? -20 : x
    return low > upper ? upper : low
  }
  @inlinable @inline(__always)
  public static func forward<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    let x = limited(x)
    return x / (1 + decay(x, m))
  }
  @inlinable @inline(__always)
  public static func derivative<M: MultiplyAdd>(x: Float, y: Float, _ m: M.Type) -> Float {
    // With s = σ(2u): d/dx = s + x · 2s(1 − s) · du/dx.
    let x = limited(x, upper: 20)
    let s = 1 / (1 + decay(x, m))
    return s + x * (2 * s * (1 - s)) * (0.79788456080286536 * (1 + 3 * 0.044715 * x * x))
  }
}
