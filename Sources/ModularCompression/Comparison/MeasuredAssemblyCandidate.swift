import Foundation
import Seq2SeqModels
import TextTasks

/// Assemblies chosen by measurement, one per ratio (`measured 2×`): among the
/// planner's plans closest to the ratio (``AssemblyPlanner/closestPlans(ratio:)``)
/// and the plans module training ran that fit it (``AssemblyPlanner/trainedPlans(ratio:)``),
/// at most `settings.measuredPlans` are assembled and scored by their
/// teacher-forced loss on the validation examples, the lowest kept.
///
/// The probe predicts a plan's loss as the sum of its modules' losses alone in
/// the teacher, which misranks plans whose modules never ran side by side in
/// training; a forward pass per candidate on held-out examples is cheap
/// beside generation and sees the plan as it will run. The test examples are
/// never used to choose.
public struct MeasuredAssemblyCandidate: ComparisonCandidate {
  public static let method = "measured"
  /// Validation examples a command hands over for choosing: enough to rank
  /// plans whose losses differ by a few percent, few enough to stay cheap.
  public static let validationCount = 200

  public init() {}

  public func rows(in context: ComparisonContext) -> [CandidateRow] {
    // Without held-out examples there is nothing to choose by (and the test split must not be used).
    guard !context.validationExamples.isEmpty else { return [] }
    let validation = TokenizedExamples(context.validationExamples, tokenizer: context.tokenizer)
    return context.settings.ratios.map { ratio in
      let row = ComparisonRow(kind: AssemblyCandidate.kind, method: Self.method, requestedRatio: ratio)
      return CandidateRow.planned(row) { row in
        let chosen = try choose(ratio: ratio, validation: validation, in: context)
        (row.predictedLossIncrease, row.estimatedSpeedup) = (chosen.predictedLossIncrease, chosen.estimatedSpeedup)
        return chosen.plan
      } build: { plan, folder in
        var planned = context.planner.evaluate(plan)
        planned.budget = .layerParameterRatio(ratio)
        return try AssemblyCandidate.build(planned, in: context, saveTo: folder, recordedStrategy: Self.method)
      }
    }
  }

  /// The plan at `ratio` with the lowest validation loss that a search
  /// within `settings.measuredPlans` scored plans finds. First the best
  /// predicted closest plan, the `pareto` plan (the best predicted within the
  /// budget, often a little smaller: measuring it means the measured choice
  /// never scores worse on validation than the prediction), the trained plans
  /// within the budget, and every closest
  /// plan whose two stacks mix granularities alike (both all g2, both g3 +
  /// g6, …: modules trained side by side in one run);
  /// then, from the best of those, a coordinate search: every cover of one
  /// stack tried with the other held (in predicted order), the best kept, then
  /// the other stack, until a round changes nothing. Stacks interact less
  /// than modules within one, so this finds what scoring every pair would at
  /// a fraction of the passes.
  func choose(ratio: Double, validation: TokenizedExamples, in context: ComparisonContext) throws -> PlannedAssembly {
    let (registry, teacher, fingerprint) = (context.registry, context.teacher, context.teacherFingerprint)
    let plans = try context.planner.closestPlans(ratio: ratio)
    guard var best = plans.first else { throw AssemblyError.invalidRatio(ratio) }
    var losses: [AssemblyPlan: Double] = [:]
    func loss(_ planned: PlannedAssembly) throws -> Double? {
      if let known = losses[planned.plan] { return known }
      guard losses.count < context.settings.measuredPlans else { return nil }
      let model = try Assembler.assemble(teacher: teacher, plan: planned.plan) {
        try registry.loadBlock($0, for: teacher, teacherFingerprint: fingerprint)
      }
      let value = try ModelEvaluation.teacherForcedLoss(model, data: validation, modelName: "plan \(planned.plan.summary)").meanLoss
      losses[planned.plan] = value
      return value
    }
    var bestLoss = try loss(best) ?? .infinity
    func mix(_ pieces: [PlanPiece]) -> [Int] { pieces.map(\.layers.count).sorted() }
    let alike = plans.filter { mix($0.plan.encoder) == mix($0.plan.decoder) }
    let predicted = try context.planner.plan(strategy: .pareto, ratio: ratio)
    for planned in try [predicted] + context.planner.trainedPlans(ratio: ratio) + alike {
      guard let value = try loss(planned) else { return best }
      if value < bestLoss { (best, bestLoss) = (planned, value) }
    }
    var changed = true
    while changed {
      changed = false
      for stack in StackRole.allCases {
        let other: StackRole = stack == .encoder ? .decoder : .encoder
        for planned in plans where planned.plan.pieces(other) == best.plan.pieces(other) {
          guard let value = try loss(planned) else { return best }
          if value < bestLoss { (best, bestLoss, changed) = (planned, value, true) }
        }
      }
    }
    return best
  }
}
