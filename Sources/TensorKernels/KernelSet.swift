/// The compute-bound loops of the tensor core, over raw buffers, single-threaded
/// (callers split work across threads).
///
/// Every kernel is written once, in the extension below, as `@inlinable` code.
/// Each conforming type compiles those bodies with its own module's target
/// flags: ``BaselineKernels`` for the baseline CPU of the build, and the
/// wide-SIMD type of `TensorKernelsAVX512` for CPUs that report AVX-512 at
/// run time. Helpers are static members of `Self`, so their specialisations
/// are named after the conforming type and can never be shared (by the linker)
/// between two builds with different instruction sets. (Nor do they use
/// closures or local functions, which would be emitted unspecialised under one
/// shared name.) Builds agree to float rounding: ``Arithmetic`` decides whether
/// polynomial steps are fused multiply-adds.
public protocol KernelSet: Sendable {
  /// How polynomial steps `a · b + c` are computed in this build.
  associatedtype Arithmetic: MultiplyAdd

  /// `y[i] = f(x[i])`.
  static func apply(
    _ function: UnaryFunction, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
  /// `dx[i] = g[i] · f′(x[i])`, with `y = f(x)` saved by the forward pass.
  static func applyGradient(
    _ function: UnaryFunction, _ g: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
    into dx: UnsafeMutablePointer<Float>, count: Int)

  /// Softmax of each of `rows` contiguous rows of `width` elements.
  static func softmax(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `dx = y ⊙ (g − Σ g⊙y)` per row.
  static func softmaxGradient(
    _ g: UnsafePointer<Float>, y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `log softmax` of each row.
  static func logSoftmax(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `dx = g − exp(y) · Σ g` per row, with `y` the log-softmax output.
  static func logSoftmaxGradient(
    _ g: UnsafePointer<Float>, y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `log Σ exp(x)` of each row, computed as `logSoftmax` does (bit-identical
  /// to `x[j] − logSoftmax(x)[j]`) without writing a row of output.
  static func logSumExp(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `dx[j] = (exp(x[j] − lse[r]) − offset) · scale` for each row `r`: the
  /// cross-entropy gradient before the target's own term.
  static func crossEntropyGradient(
    _ x: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, offset: Float, scale: Float,
    into dx: UnsafeMutablePointer<Float>, rows: Int, width: Int)

  /// Distillation rows at inverse temperature `τ`: `lse(τ·x)` and `lse(τ·t)` of
  /// student and teacher rows, and each row's `Σ p (log p − log q)` with
  /// `p = softmax(τ·t)`, `q = softmax(τ·x)`, without writing a row of output.
  static func distillation(
    student x: UnsafePointer<Float>, teacher t: UnsafePointer<Float>, inverseTemperature: Float,
    studentLogSumExp: UnsafeMutablePointer<Float>, teacherLogSumExp: UnsafeMutablePointer<Float>,
    loss: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// `dx[j] = (q[j] − p[j]) · scale` for each row (`p`, `q` as in ``distillation``).
  static func distillationGradient(
    student x: UnsafePointer<Float>, teacher t: UnsafePointer<Float>, inverseTemperature: Float,
    studentLogSumExp: UnsafePointer<Float>, teacherLogSumExp: UnsafePointer<Float>, scale: Float,
    into dx: UnsafeMutablePointer<Float>, rows: Int, width: Int)

  /// Layer norm (`centered`) or RMS norm of each row, keeping each row's mean
  /// (0 for RMS) and `1/σ` for the gradient.
  static func normalize(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, epsilon: Float,
    centered: Bool, into y: UnsafeMutablePointer<Float>, means: UnsafeMutablePointer<Float>,
    inverseStd: UnsafeMutablePointer<Float>, rows: Int, width: Int)
  /// The input gradient of ``normalize(_:weight:bias:epsilon:centered:into:means:inverseStd:rows:width:)``;
  /// adds this block's weight and bias gradients (`Σ g·x̂`, `Σ g`) to `weightGradient`/`biasGradient`.
  static func normalizeGradient(
    _ g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
    means: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>, centered: Bool,
    into dx: UnsafeMutablePointer<Float>, weightGradient: UnsafeMutablePointer<Float>,
    biasGradient: UnsafeMutablePointer<Float>, rows: Int, width: Int)

  /// One AdamW step over `count` elements (see ``AdamWStep``).
  static func adamW(
    _ step: AdamWStep, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>, count: Int)
}

/// The scalars of one AdamW update: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − decay·p − lr · (m/c₁) / (√(v/c₂) + ε)`.
public struct AdamWStep: Sendable {
  public var learningRate: Float, beta1: Float, beta2: Float, epsilon: Float
  /// `lr · weight decay` (0 for parameters without decay).
  public var decay: Float
  /// Bias corrections `1 − β₁ᵗ` and `1 − β₂ᵗ`.
  public var correction1: Float, correction2: Float

  public init(
    learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, decay: Float, correction1: Float,
    correction2: Float
  ) {
    (self.learningRate, self.beta1, self.beta2, self.epsilon) = (learningRate, beta1, beta2, epsilon)
    (self.decay, self.correction1, self.correction2) = (decay, correction1, correction2)
  }
}

/// The kernels compiled for the build's baseline CPU.
public enum BaselineKernels: KernelSet {
  public typealias Arithmetic = SeparateMultiplyAdd
}

extension KernelSet {
  @inlinable public static func apply(
    _ function: UnaryFunction, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int
  ) {
    switch function {
    case .exp: map(ExpKernel.self, x, y, count)
    case .log: map(LogKernel.self, x, y, count)
    case .sqrt: map(SqrtKernel.self, x, y, count)
    case .rsqrt: map(RsqrtKernel.self, x, y, count)
    case .tanh: map(TanhKernel.self, x, y, count)
    case .sigmoid: map(SigmoidKernel.self, x, y, count)
    case .relu: map(ReluKernel.self, x, y, count)
    case .silu: map(SiluKernel.self, x, y, count)
    case .geluErf: map(GeluErfKernel.self, x, y, count)
    case .geluTanh: map(GeluTanhKernel.self, x, y, count)
    }
  }

  @inlinable public static func applyGradient(
    _ function: UnaryFunction, _ g: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
    into dx: UnsafeMutablePointer<Float>, count: Int
  ) {
    switch function {
    case .exp: mapGradient(ExpKernel.self, g, x, y, dx, count)
    case .log: mapGradient(LogKernel.self, g, x, y, dx, count)
    case .sqrt: mapGradient(SqrtKernel.self, g, x, y, dx, count)
    case .rsqrt: mapGradient(RsqrtKernel.self, g, x, y, dx, count)
    case .tanh: mapGradient(TanhKernel.self, g, x, y, dx, count)
    case .sigmoid: mapGradient(SigmoidKernel.self, g, x, y, dx, count)
    case .relu: mapGradient(ReluKernel.self, g, x, y, dx, count)
    case .silu: mapGradient(SiluKernel.self, g, x, y, dx, count)
    case .geluErf: mapGradient(GeluErfKernel.self, g, x, y, dx, count)
    case .geluTanh: mapGradient(GeluTanhKernel.self, g, x, y, dx, count)
    }
  }

  /// The kernel is called statically (no closure), so the loop vectorises.
  @inlinable @inline(__always) static func map<Kernel: UnaryKernel>(
    _: Kernel.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    for i in 0..<count { y[i] = Kernel.forward(x[i], Arithmetic.self) }
  }

  @inlinable @inline(__always) static func mapGradient<Kernel: UnaryKernel>(
    _: Kernel.Type, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
    _ dx: UnsafeMutablePointer<Float>, _ count: Int
  ) {
    for i in 0..<count { dx[i] = g[i] * Kernel.derivative(x: x[i], y: y[i], Arithmetic.self) }
  }
}
