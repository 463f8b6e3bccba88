import Foundation
import Seq2SeqModels

/// The floor modules must beat: the teacher with evenly spaced layers kept
/// and the rest dropped, no training. Which layers and how many follow
/// ``StudentShape`` (size-first by default), the rule every per-ratio
/// student follows too.
///
/// T5's relative-position bias lives on the stack, not in layer 0, so
/// dropping layer 0's neighbours (or keeping any subset) keeps it.
public enum LayerDropping {
  /// A copy of `teacher` that keeps only the layers of `plan` (a plan of
  /// teacher layers, as ``StudentShape/plan(costs:ratio:strategy:)`` makes). The teacher is unchanged.
  public static func apply(_ plan: AssemblyPlan, to teacher: any Seq2SeqModel) throws -> any Seq2SeqModel {
    let model = try ModelLoading.makeModel(configuration: teacher.configurationJSON(), source: "teacher configuration")
    try model.loadStateDictionary(teacher.stateDictionary(), source: "teacher weights")
    for stack in [model.encoder, model.decoder] {
      let layers = stack.blocks
      stack.blocks = try plan.pieces(stack.role).map { piece in
        guard case .teacher(let layer) = piece, layers.indices.contains(layer) else {
          throw AssemblyError.invalidPlan("layer dropping keeps teacher layers only; \(stack.role.rawValue) has \(piece)")
        }
        return layers[layer]
      }
    }
    return model
  }

  /// The dropped model at layer-parameter ratio `ratio`, with its kept layers and sizes.
  public static func apply(to teacher: any Seq2SeqModel, ratio: Double, strategy: AssemblyStrategy = .sizeFirst) throws -> (
    model: any Seq2SeqModel, plan: AssemblyPlan, cost: PlanCost
  ) {
    let costs = LayerCosts(teacher: teacher)
    let kept = try StudentShape.plan(costs: costs, ratio: ratio, strategy: strategy)
    return (try apply(kept, to: teacher), kept, costs.cost(of: kept))
  }
}

/// A layer-dropping budget that cannot be met.
public enum LayerDroppingError: Error, LocalizedError, CustomStringConvertible, Equatable {
  /// Even one layer per stack keeps more than `1/requested` of the layer parameters.
  case unreachableRatio(requested: Double, maximum: Double)

  public var description: String {
    switch self {
    case .unreachableRatio(let requested, let maximum):
      "layer dropping cannot reach ratio \(formatRatio(requested)): one layer per stack is ratio \(formatRatio(maximum))"
    }
  }

  public var errorDescription: String? { description }
}
