import Foundation
import Seq2SeqModels

extension AssemblyPlanner {
  /// The plans closest to `ratio` from above (the most layer parameters
  /// within it), best predicted quality first: the candidates a measured
  /// choice (``MeasuredAssemblyCandidate``) searches.
  ///
  /// Each stack contributes the best predicted cover of every profile, so the
  /// list holds one plan per pair of granularity mixes.
  public func closestPlans(ratio: Double) throws -> [PlannedAssembly] {
    guard ratio.isFinite, ratio >= 1 else { throw AssemblyError.invalidRatio(ratio) }
    let budget = Double(costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9)
    var fitting: [Candidate] = []
    for encoder in qualityOptions[.encoder, default: []] {
      for decoder in qualityOptions[.decoder, default: []] {
        let candidate = Candidate(encoder: encoder, decoder: decoder)
        if Double(candidate.parameters) <= budget { fitting.append(candidate) }
      }
    }
    guard let most = fitting.map(\.parameters).max() else {
      throw AssemblyError.unreachableRatio(requested: ratio, maximum: maximumRatio, reachable: reachableRatios)
    }
    let closest = fitting.filter { $0.parameters == most }.sorted { a, b in
      a.penalty != b.penalty ? a.penalty < b.penalty : precedes(a.pieces, b.pieces)
    }
    return closest.map { candidate in
      var planned = evaluate(AssemblyPlan(encoder: candidate.encoder.pieces, decoder: candidate.decoder.pieces))
      planned.budget = .layerParameterRatio(ratio)
      return planned
    }
  }

  /// The plans sampling `every` trains that fit `ratio`'s budget, best
  /// predicted first: for each granularity, every aligned span of both stacks
  /// replaced by its module (layers no span of it covers stay the teacher's).
  /// Smaller than ``closestPlans(ratio:)`` when the ratio lies between two
  /// granularities, but made of modules that trained side by side, so a
  /// measured choice weighs them too: a smaller model that keeps more is the
  /// better answer to a budget.
  public func trainedPlans(ratio: Double) throws -> [PlannedAssembly] {
    guard ratio.isFinite, ratio >= 1 else { throw AssemblyError.invalidRatio(ratio) }
    let budget = Double(costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9)
    var plans: [PlannedAssembly] = []
    for g in Set(modules.keys.map(\.granularity)).sorted() {
      func pieces(_ stack: StackRole) -> [PlanPiece] {
        AssemblyPlan.cover(depth: costs.depth(stack)) { layer in
          let span = ModuleSpan(stack: stack, granularity: g, index: layer / g)
          return layer % g == 0 && modules[span] != nil ? span : nil
        }
      }
      let plan = AssemblyPlan(encoder: pieces(.encoder), decoder: pieces(.decoder))
      let size = costs.parameters(of: plan.encoder, in: .encoder) + costs.parameters(of: plan.decoder, in: .decoder)
      guard !plan.modules.isEmpty, Double(size) <= budget else { continue }
      var planned = evaluate(plan)
      planned.budget = .layerParameterRatio(ratio)
      plans.append(planned)
    }
    return plans.sorted { $0.predictedLossIncrease < $1.predictedLossIncrease }
  }
}
