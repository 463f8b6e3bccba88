import Foundation
import Seq2SeqModels

/// Seconds each block adds to one batch-1 greedy generation: measured where
/// known, estimated otherwise.
///
/// Look-up order for a block: its kind in ``measuredSeconds``, scaled by its
/// parameters against ``measuredParameters`` (the timed block's) when that is
/// known; else the measured teacher layer of its stack scaled the same way (a
/// module has a teacher layer's shape); else `parameters × passes ×
/// secondsPerParameterPass`, where an encoder block makes one pass (over the
/// whole source at once) and a decoder block one pass per generated token.
public struct LatencyModel: Sendable, Equatable {
  public var measuredSeconds: [BlockKind: Double]
  /// Parameters of the block behind each measurement.
  public var measuredParameters: [BlockKind: Int]
  /// Tokens generated per sequence: how often each decoder block runs.
  public var generatedTokens: Double
  /// The nominal cost of one parameter in one pass, for blocks without measurements.
  public var secondsPerParameterPass: Double

  public init(
    measuredSeconds: [BlockKind: Double] = [:], measuredParameters: [BlockKind: Int] = [:],
    generatedTokens: Double = Double(LatencyProfile.defaultGeneratedTokens), secondsPerParameterPass: Double = 1e-9
  ) {
    self.measuredSeconds = measuredSeconds
    self.measuredParameters = measuredParameters
    self.generatedTokens = generatedTokens
    self.secondsPerParameterPass = secondsPerParameterPass
  }

  /// The seconds one block of `kind` with `parameters` adds; `costs` gives the teacher layer's size.
  public func seconds(_ kind: BlockKind, parameters: Int, costs: LayerCosts) -> Double {
    func scaled(_ seconds: Double, from measured: BlockKind, fallback: Int?) -> Double {
      guard let timed = measuredParameters[measured] ?? fallback, timed > 0 else { return seconds }
      return seconds * Double(parameters) / Double(timed)
    }
    if let measured = measuredSeconds[kind] { return scaled(measured, from: kind, fallback: nil) }
    let layer = BlockKind.teacherLayer(kind.stack)
    if let measured = measuredSeconds[layer] {
      return scaled(measured, from: layer, fallback: costs.teacherLayerParameters(kind.stack))
    }
    let passes = kind.stack == .decoder ? generatedTokens : 1
    return Double(parameters) * passes * secondsPerParameterPass
  }
}

/// How much quality a module is predicted to cost: its probe loss increase.
///
/// A probed module costs `max(0, loss − baseline)`, the baseline being the
/// teacher's validation loss (or, when unknown, the best probed module's).
/// A module without probe data costs `unprobedPenaltyPerLayer × g`; by default
/// that rate is the worst per-replaced-layer increase among probed modules, so
/// an unmeasured module is never preferred to a measured one of its size, or
/// 0.1 nats per layer when nothing was probed.
public struct QualityModel: Sendable, Equatable {
  public var teacherValidationLoss: Float?
  public var unprobedPenaltyPerLayer: Double?

  public init(teacherValidationLoss: Float? = nil, unprobedPenaltyPerLayer: Double? = nil) {
    self.teacherValidationLoss = teacherValidationLoss
    self.unprobedPenaltyPerLayer = unprobedPenaltyPerLayer
  }

  /// The predicted loss increase of each module.
  public func penalties(_ modules: [ModuleSpan: ModuleFacts]) -> [ModuleSpan: Double] {
    let probed = modules.compactMapValues(\.validationLoss)
    let baseline = teacherValidationLoss ?? probed.values.min() ?? 0
    let increases = probed.mapValues { max(0, Double($0) - Double(baseline)) }
    let rate =
      unprobedPenaltyPerLayer ?? increases.map { $0.value / Double($0.key.granularity) }.max().map { max($0, 1e-6) } ?? 0.1
    return Dictionary(uniqueKeysWithValues: modules.keys.map { ($0, increases[$0] ?? rate * Double($0.granularity)) })
  }
}

/// A chosen plan with what the planner predicts for it.
public struct PlannedAssembly: Sendable, Equatable {
  public var plan: AssemblyPlan
  /// nil for an explicit plan.
  public var strategy: AssemblyStrategy?
  public var budget: AssemblyBudget?
  public var cost: PlanCost
  /// Sum of the modules' predicted loss increases (``QualityModel``).
  public var predictedLossIncrease: Double
  /// Seconds of one batch-1 generation by the ``LatencyModel``.
  public var estimatedSeconds: Double
  /// Teacher's estimated seconds / this plan's.
  public var estimatedSpeedup: Double

  /// The requested layer-parameter ratio, when the budget was one.
  public var requestedRatio: Double? {
    if case .layerParameterRatio(let ratio) = budget { ratio } else { nil }
  }
}
