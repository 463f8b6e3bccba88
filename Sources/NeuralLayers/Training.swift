import Foundation
import TensorCore

/// Scales gradients so their global L2 norm is at most `maxNorm`; returns the
/// norm before clipping (computed in Double).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
  var total: Double = 0
  for parameter in parameters {
    parameter.grad?.withValues { g in for x in g { total += Double(x) * Double(x) } }
  }
  let norm = Float(total.squareRoot())
  if norm > maxNorm && norm > 0 {
    let factor = maxNorm / (norm + 1e-6)
    parameters.forEach { $0.value.scaleGrad(by: factor) }
  }
  return norm
}

/// Training settings that name their learning-rate schedule as recipes do.
public protocol NamedLearningRateSchedule {
  /// `linear`, `inverse_sqrt` or `constant` (validated when the settings are read).
  var schedule: String { get }
  var warmupSteps: Int { get }
  var steps: Int { get }
}

extension NamedLearningRateSchedule {
  public var learningRateSchedule: LearningRateSchedule {
    LearningRateSchedule.named(schedule, warmup: warmupSteps, total: steps) ?? .constant
  }
}

/// How the learning rate changes with the step (1-based).
public enum LearningRateSchedule: Codable, Sendable, Equatable {
  case constant
  /// Linear rise over `warmup` steps, then linear decay to 0 at `total`.
  case linearWarmupDecay(warmup: Int, total: Int)
  /// Linear rise over `warmup` steps, then `√(warmup / step)`.
  case inverseSquareRoot(warmup: Int)

  /// The recipe names of the schedules.
  public static let names = ["linear", "inverse_sqrt", "constant"]

  /// The schedule a recipe names (`linear`, `inverse_sqrt`, `constant`); nil for an unknown name.
  public static func named(_ name: String, warmup: Int, total: Int) -> LearningRateSchedule? {
    switch name {
    case "constant": .constant
    case "inverse_sqrt": .inverseSquareRoot(warmup: warmup)
    case "linear": .linearWarmupDecay(warmup: warmup, total: total)
    default: nil
    }
  }

  /// The rate at `step` for a peak rate `base`.
  public func rate(at step: Int, base: Float) -> Float {
    let s = Float(Swift.max(step, 1))
    switch self {
    case .constant:
      return base
    case .linearWarmupDecay(let warmup, let total):
      if step <= warmup { return base * s / Float(Swift.max(warmup, 1)) }
      return base * Swift.max(0, Float(total - step) / Float(Swift.max(total - warmup, 1)))
    case .inverseSquareRoot(let warmup):
      let w = Float(Swift.max(warmup, 1))
      return step <= warmup ? base * s / w : base * (w / s).squareRoot()
    }
  }

  enum CodingKeys: String, CodingKey { case kind, warmup, total }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try c.decode(String.self, forKey: .kind)
    switch kind {
    case "constant": self = .constant
    case "linear": self = .linearWarmupDecay(warmup: try c.decode(Int.self, forKey: .warmup), total: try c.decode(Int.self, forKey: .total))
    case "inverse_sqrt": self = .inverseSquareRoot(warmup: try c.decode(Int.self, forKey: .warmup))
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .kind, in: c, debugDescription: "unknown schedule '\(kind)'; expected constant, linear or inverse_sqrt")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .constant: try c.encode("constant", forKey: .kind)
    case .linearWarmupDecay(let warmup, let total):
      try c.encode("linear", forKey: .kind)
      try c.encode(warmup, forKey: .warmup)
      try c.encode(total, forKey: .total)
    case .inverseSquareRoot(let warmup):
      try c.encode("inverse_sqrt", forKey: .kind)
      try c.encode(warmup, forKey: .warmup)
    }
  }
}
