import Foundation
import TensorKernels

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

  /// Applies a unary kernel (the build ``KernelChoice`` picked) and records its derivative.
  func applying(_ function: UnaryFunction) -> Tensor {
    var out = Tensor(uninitializedShape: shape)
    let source = storage.pointer, target = out.storage.pointer
    let kernels = KernelChoice.active
    parallelChunks(count, grain: 1 << 14) { range in
      kernels.apply(function, source + range.lowerBound, target + range.lowerBound, count: range.count)
    }
    let x = detached(), y = out.detached()
    Tensor.record(&out, inputs: [self]) { g in
      let dx = Tensor(uninitializedShape: x.shape)
      let pg = g.storage.pointer, px = x.storage.pointer, py = y.storage.pointer
      let pd = dx.storage.pointer
      parallelChunks(x.count, grain: 1 << 14) { range in
        let start = range.lowerBound
        kernels.applyGradient(function, pg + start, x: px + start, y: py + start, into: pd + start, count: range.count)
      }
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
  public func exp() -> Tensor { applying(.exp) }
  /// Natural logarithm.
  public func log() -> Tensor { applying(.log) }
  /// √x.
  public func sqrt() -> Tensor { applying(.sqrt) }
  /// 1/√x.
  public func rsqrt() -> Tensor { applying(.rsqrt) }
  /// Hyperbolic tangent.
  public func tanh() -> Tensor { applying(.tanh) }
  /// Logistic sigmoid.
  public func sigmoid() -> Tensor { applying(.sigmoid) }
  /// max(x, 0).
  public func relu() -> Tensor { applying(.relu) }
  /// x · sigmoid(x).
  public func silu() -> Tensor { applying(.silu) }
  /// Gaussian error linear unit.
  public func gelu(approximation: GeluApproximation = .none) -> Tensor {
    switch approximation {
    case .none: applying(.geluErf)
    case .tanh: applying(.geluTanh)
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

  /// |x|ᵖ for a constant exponent p > 0, with derivative p·|x|ᵖ⁻¹·sign(x)
  /// (0 at x = 0, the subgradient, where p < 1 would make it infinite).
  public func absolutePower(_ exponent: Float) -> Tensor {
    var out = mapValues { Foundation.pow(Swift.abs($0), exponent) }
    let x = detached()
    Tensor.record(&out, inputs: [self]) { g in
      let slope = x.mapValues { $0 == 0 ? 0 : exponent * Foundation.pow(Swift.abs($0), exponent - 1) * ($0 > 0 ? 1 : -1) }
      return [Tensor.broadcastBinary(g, slope, MulKernel.self)]
    }
    return out
  }
}
