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
}
