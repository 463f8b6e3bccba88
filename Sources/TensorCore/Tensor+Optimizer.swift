import TensorKernels

/// The scalars of one AdamW update (learning rate, betas, ε, decay and bias
/// corrections); see ``Tensor/applyAdamW(_:gradient:firstMoment:secondMoment:)``.
public typealias AdamWStep = TensorKernels.AdamWStep

extension Tensor {
  /// Applies one AdamW update to this parameter value in place, updating the
  /// moment tensors (all four share one shape), in parallel:
  /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
  /// `p ← p − decay·p − lr · (m/c₁) / (√(v/c₂) + ε)`.
  /// Shared storages are copied first (copy-on-write).
  public mutating func applyAdamW(
    _ step: AdamWStep, gradient: Tensor, firstMoment: inout Tensor, secondMoment: inout Tensor
  ) {
    precondition(
      gradient.shape == shape && firstMoment.shape == shape && secondMoment.shape == shape,
      "AdamW: gradient \(gradient.shape) and moments \(firstMoment.shape), \(secondMoment.shape) must match \(shape)")
    let kernels = KernelChoice.active
    let pg = gradient.storage.pointer
    withMutableValues { p in
      firstMoment.withMutableValues { m in
        secondMoment.withMutableValues { v in
          let (pp, pm, pv) = (p.baseAddress!, m.baseAddress!, v.baseAddress!)
          parallelChunks(p.count, grain: 1 << 14) { range in
            let i = range.lowerBound
            kernels.adamW(
              step, parameter: pp + i, gradient: pg + i, firstMoment: pm + i, secondMoment: pv + i,
              count: range.count)
          }
        }
      }
    }
  }
}
