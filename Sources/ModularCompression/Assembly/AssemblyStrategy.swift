import Foundation
import Seq2SeqModels

/// How a plan is chosen for a budget.
///
/// Every strategy returns a plan whose layer-parameter ratio reaches the
/// requested ratio `R`: ρ = teacher layer parameters / plan layer parameters
/// ≥ R (up to 1e-9 relative rounding). "Closest to `R` from above" means the
/// smallest ρ ≥ R, i.e. the most layer parameters within the budget.
/// - `size-first` (the paper's idea): the plan closest to `R` from above;
///   among those, compression spread most evenly over the two stacks
///   (smallest |log ρ_enc − log ρ_dec|), then the fewest modules (coarse
///   modules, more teacher layers kept).
/// - `speed-first` (the paper's idea): the decoder is compressed first (it
///   runs once per generated token): the plan that keeps the most encoder
///   parameters (the whole encoder when the decoder alone can reach `R`);
///   among those, the one closest to `R` from above, then the fewest modules.
///   Its overshoot is the smallest *given* that order, so it can be larger
///   than size-first's when encoder and decoder layers differ in size.
/// - `pareto` (ours): the plan with the smallest predicted quality loss (sum of
///   the modules' probe loss increases, ``QualityModel``) within the budget, a
///   ratio or an estimated latency speedup (``LatencyModel``); then the
///   closest to the budget, the lowest estimated latency, the fewest modules.
/// Remaining ties go to a fixed order: stacks compared encoder first, pieces
/// position by position, a teacher layer before a module (so modules gather
/// at the top of a stack), a finer module before a coarser one.
public enum AssemblyStrategy: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
  case sizeFirst = "size-first"
  case speedFirst = "speed-first"
  case pareto

  /// Parses a strategy name; an unknown one is an error naming the valid ones.
  public init(parsing name: String) throws {
    guard let strategy = AssemblyStrategy(rawValue: name) else { throw AssemblyError.unknownStrategy(name) }
    self = strategy
  }

  public var description: String { rawValue }
}

/// What an assembly must fit in.
public enum AssemblyBudget: Sendable, Equatable {
  /// Teacher layer parameters / assembly layer parameters ≥ the ratio.
  case layerParameterRatio(Double)
  /// Estimated teacher latency / assembly latency ≥ the speedup (pareto only).
  case speedup(Double)
}

/// A plan that cannot be made.
public enum AssemblyError: Error, LocalizedError, CustomStringConvertible, Equatable {
  case invalidRatio(Double)
  case invalidSpeedup(Double)
  case unreachableRatio(requested: Double, maximum: Double, reachable: [Double])
  case unreachableSpeedup(requested: Double, maximum: Double)
  case unknownStrategy(String)
  case budgetNotSupported(strategy: AssemblyStrategy)
  case missingModule(String, available: [String])
  case invalidPlan(String)
  case incompatibleBlock(module: String, reason: String)

  public var description: String {
    switch self {
    case .invalidRatio(let ratio):
      "ratio \(ratio) is not valid: it must be a finite number ≥ 1 (teacher layer parameters / assembly layer parameters)"
    case .invalidSpeedup(let speedup): "speedup \(speedup) is not valid: it must be a finite number ≥ 1"
    case .unreachableRatio(let requested, let maximum, let reachable):
      "ratio \(formatRatio(requested)) cannot be reached with this registry's modules: the largest layer-parameter ratio is "
        + "\(formatRatio(maximum)); reachable ratios: \(reachable.map(formatRatio).joined(separator: ", "))"
    case .unreachableSpeedup(let requested, let maximum):
      "speedup \(formatRatio(requested)) cannot be reached with this registry's modules: the largest estimated speedup is \(formatRatio(maximum))"
    case .unknownStrategy(let name):
      "unknown strategy '\(name)'; valid strategies: \(AssemblyStrategy.allCases.map(\.rawValue).joined(separator: ", "))"
    case .budgetNotSupported(let strategy):
      "strategy '\(strategy)' takes a layer-parameter ratio; only 'pareto' takes a latency speedup"
    case .missingModule(let id, let available):
      "module '\(id)' is not in the registry; available: "
        + (available.isEmpty ? "none" : available.joined(separator: ", "))
    case .invalidPlan(let reason): "invalid plan: \(reason)"
    case .incompatibleBlock(let module, let reason): "module '\(module)' cannot be assembled: \(reason)"
    }
  }

  public var errorDescription: String? { description }
}

/// `2`, `1.5`, `1.09`: ratios as people write them (two decimals at most).
func formatRatio(_ value: Double) -> String {
  let rounded = (value * 100).rounded() / 100
  return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded).replacingOccurrences(
    of: "0$", with: "", options: .regularExpression)
}
