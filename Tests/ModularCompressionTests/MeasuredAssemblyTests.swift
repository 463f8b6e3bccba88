import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

/// `measured` rows: plans of equal size chosen by validation loss, never by the test split.
final class MeasuredAssemblyTests: TinyPipelineTestCase {
  func planning(_ fixture: ComparisonFixture) throws -> PlanningContext {
    try PlanningContext(teacher: fixture.teacher, teacherFolder: fixture.teacherFolder, registry: fixture.registry, latency: .estimate)
  }

  func testClosestPlansHaveTheMostParametersWithinTheRatioBestPredictedFirst() throws {
    let fixture = try ComparisonFixture(in: folder, granularities: [2, 3], depth: 6)
    let planner = try planning(fixture).planner
    let plans = try planner.closestPlans(ratio: 2)
    let budget = Double(planner.costs.teacherLayerParameterTotal) / 2
    let sizes = Set(plans.map(\.cost.layerParameters))
    XCTAssertEqual(sizes.count, 1, "one size: the closest to the ratio from above")
    let size = try XCTUnwrap(sizes.first)
    XCTAssertLessThanOrEqual(Double(size), budget * (1 + 1e-9))
    // No plan the planner can make fits the budget with more parameters.
    for strategy in AssemblyStrategy.allCases {
      XCTAssertLessThanOrEqual(try planner.plan(strategy: strategy, ratio: 2).cost.layerParameters, size, "\(strategy)")
    }
    let predicted = plans.map(\.predictedLossIncrease)
    XCTAssertEqual(predicted, predicted.sorted(), "best predicted first")
    XCTAssertEqual(Set(plans.map(\.plan)).count, plans.count, "no plan twice")
    // One plan for each pair of granularity mixes: all g2, or g3 + g2 + a teacher layer, in either stack.
    let mixes = Set(plans.map { planned in
      [planned.plan.encoder, planned.plan.decoder].map { $0.map(\.layers.count).sorted() }
    })
    XCTAssertEqual(mixes, [[[2, 2, 2], [2, 2, 2]], [[1, 2, 3], [2, 2, 2]], [[2, 2, 2], [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]])
    XCTAssertThrowsError(try planner.closestPlans(ratio: 0.5))
  }

  func testTrainedPlansAreEachGranularitysWholeCoverWithinTheBudget() throws {
    let fixture = try ComparisonFixture(in: folder, granularities: [2, 3], depth: 6)
    let planner = try planning(fixture).planner
    func granularities(_ ratio: Double) throws -> [[Int]] {
      try planner.trainedPlans(ratio: ratio).map { planned in
        // Every piece of both stacks is a module of one granularity: the plan `every` sampling trains.
        XCTAssertTrue(planned.plan.isCover(encoderDepth: 6, decoderDepth: 6))
        XCTAssertLessThanOrEqual(
          Double(planned.cost.layerParameters), Double(planner.costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9))
        return Array(Set((planned.plan.encoder + planned.plan.decoder).map(\.layers.count))).sorted()
      }
    }
    // 1.5× admits the 2× and 3× covers (smaller models answer a budget too); 2.5× only the 3×; 4× none.
    XCTAssertEqual(Set(try granularities(1.5)), [[2], [3]])
    XCTAssertEqual(try granularities(2), try granularities(1.5))
    XCTAssertEqual(try granularities(2.5), [[3]])
    XCTAssertEqual(try granularities(4), [])
    let predicted = try planner.trainedPlans(ratio: 1.5).map(\.predictedLossIncrease)
    XCTAssertEqual(predicted, predicted.sorted(), "best predicted first")
    XCTAssertThrowsError(try planner.trainedPlans(ratio: .nan))
  }

  func testMeasuredRowKeepsThePlanWithTheLowestValidationLoss() throws {
    let fixture = try ComparisonFixture(in: folder, granularities: [2, 3], depth: 6)
    // Modules are copies of their span's first layer: plans of equal size differ in loss.
    let validation = Array(ComparisonFixture.examples.prefix(4))
    let test = Array(ComparisonFixture.examples.suffix(2))
    let context = try planning(fixture)
    let settings = ComparisonSettings(
      ratios: [1.5, 2], strategies: [.pareto], includeLayerDropping: false, latencyExamples: 1, throughputBatch: 8,
      measuredPlans: ComparisonSettings.maximumMeasuredPlans)
    let results = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, teacherFolder: fixture.teacherFolder, examples: test,
        validationExamples: validation, settings: settings, reportFolder: folder.appendingPathComponent("report"),
        saveModels: true))
    let data = TokenizedExamples(validation, tokenizer: ByteTokenizer())
    for ratio in [1.5, 2.0] {
      let row = try XCTUnwrap(results.rows.first { $0.label == "measured \(formatRatio(ratio))×" })
      XCTAssertEqual(row.kind, AssemblyCandidate.kind)
      XCTAssertEqual(row.method, MeasuredAssemblyCandidate.method)
      XCTAssertNotNil(row.quality, "measured on the test examples like every row")
      var losses: [String: Double] = [:]
      let predicted = try context.planner.plan(strategy: .pareto, ratio: ratio)
      for planned in try [predicted] + context.planner.closestPlans(ratio: ratio) + context.planner.trainedPlans(ratio: ratio) {
        let model = try Assembler.assemble(teacher: fixture.teacher, plan: planned.plan) {
          try fixture.registry.loadBlock($0, for: fixture.teacher, teacherFingerprint: fixture.registry.teacherFingerprint)
        }
        losses[planned.plan.summary] = try ModelEvaluation.teacherForcedLoss(model, data: data).meanLoss
      }
      // The saved model records the choice as its strategy, and the measured cost.
      let saved = try AssemblyReport.load(from: folder.appendingPathComponent("report/models/measured-\(formatRatio(ratio))x"))
      XCTAssertEqual(saved.strategy, MeasuredAssemblyCandidate.method)
      XCTAssertEqual(saved.summary, row.plan)
      XCTAssertEqual(saved.cost.latencySpeedup, row.cost?.latencySpeedup)
      let chosen = try XCTUnwrap(row.plan)
      let lowest = try XCTUnwrap(losses.values.min())
      XCTAssertEqual(
        try XCTUnwrap(losses[chosen], "\(chosen) is the pareto plan or one of the closest or trained plans"), lowest,
        accuracy: 1e-12, "ratio \(ratio)")
    }

    // Without validation examples there are no measured rows.
    let without = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, teacherFolder: fixture.teacherFolder, examples: test, settings: settings))
    XCTAssertFalse(without.rows.contains { $0.method == MeasuredAssemblyCandidate.method })
  }

  func testABudgetOfOnePlanKeepsTheBestPredicted() throws {
    let fixture = try ComparisonFixture(in: folder, granularities: [2, 3], depth: 6)
    let context = try planning(fixture)
    let settings = ComparisonSettings(ratios: [2], strategies: [.pareto], includeLayerDropping: false, measuredPlans: 1)
    let comparison = ComparisonContext(
      teacher: fixture.teacher, registry: fixture.registry, planner: context.planner,
      teacherFingerprint: context.teacherFingerprint, registryFingerprint: nil, tokenizer: ByteTokenizer(), settings: settings,
      validationExamples: ComparisonFixture.examples)
    let data = TokenizedExamples(ComparisonFixture.examples, tokenizer: ByteTokenizer())
    let chosen = try MeasuredAssemblyCandidate().choose(ratio: 2, validation: data, in: comparison)
    XCTAssertEqual(chosen.plan, try context.planner.closestPlans(ratio: 2).first?.plan)
  }

  func testMeasuredPlansOutsideItsRangeIsRefusedByName() {
    for bad in [-1, ComparisonSettings.maximumMeasuredPlans + 1] {
      var settings = ComparisonSettings()
      settings.measuredPlans = bad
      XCTAssertThrowsError(try settings.validate()) { error in
        XCTAssertTrue("\(error)".contains("measured_plans"), "\(error)")
      }
    }
  }
}
