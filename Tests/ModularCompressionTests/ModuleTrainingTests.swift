import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

final class ModuleTrainingTests: XCTestCase {
  /// Random copy-task batches over the tiny vocabulary, a pure function of the step.
  struct CopyBatches: BatchSchedule {
    func batch(forStep step: Int) -> Seq2SeqBatch {
      var random = SeededRandom(seed: 5).split(UInt64(step))
      let (b, t) = (4, 6)
      let tokens = (0..<(b * t)).map { _ in 3 + random.nextInt(below: 20) }
      let decoderInputs = (0..<b).flatMap { row in [0] + tokens[(row * t)..<(row * t + t - 1)] }
      var labels = tokens
      labels[t - 1] = -100  // one ignored position
      return Seq2SeqBatch(
        batchSize: b, sourceLength: t, sourceIDs: tokens, sourceKeep: [Float](repeating: 1, count: b * t),
        targetLength: t, decoderInputIDs: decoderInputs, labels: labels)
    }
  }

  func testPerStepPlansUseOneGranularityAndAreDeterministic() {
    let sampler = HybridSampler(sampling: .perStep, granularities: [2, 3], depths: [.encoder: 6, .decoder: 4], seed: 1)
    var seen = Set<Int>()
    for step in 1...40 {
      let (plan, g) = sampler.plan(step: step, probability: 0.5)
      XCTAssertTrue(plan.isCover(encoderDepth: 6, decoderDepth: 4), plan.summary)
      XCTAssertFalse(plan.modules.isEmpty, "step \(step) trains nothing")
      XCTAssertTrue(plan.modules.allSatisfy { $0.granularity == g })
      XCTAssertEqual(sampler.plan(step: step, probability: 0.5).plan, plan)
      seen.insert(g!)
    }
    XCTAssertEqual(seen, [2, 3])
    // p = 1 replaces every span of the drawn granularity.
    let (full, g) = sampler.plan(step: 3, probability: 1)
    XCTAssertEqual(full.modules.count, 6 / g! + 4 / g!)
  }

  func testMixedPlansMixGranularitiesAndAlwaysHoldAModule() {
    let sampler = HybridSampler(sampling: .mixed, granularities: [2, 3, 6], depths: [.encoder: 6, .decoder: 6], seed: 2)
    var mixedSteps = 0
    for step in 1...60 {
      let (plan, g) = sampler.plan(step: step, probability: step.isMultiple(of: 2) ? 0.8 : 0.01)
      XCTAssertNil(g)
      XCTAssertTrue(plan.isCover(encoderDepth: 6, decoderDepth: 6), plan.summary)
      XCTAssertFalse(plan.modules.isEmpty)
      if Set(plan.modules.map(\.granularity)).count > 1 { mixedSteps += 1 }
    }
    XCTAssertGreaterThan(mixedSteps, 5, "mixed covers should often combine granularities")
  }

  /// Random g2 and g4 modules, every span replaced from the first step, no local stage, a constant
  /// rate; only the distillation terms (a random teacher's own cross-entropy cannot fall much).
  static func hybridOnlySettings(steps: Int) -> ModuleTrainingSettings {
    var settings = ModuleTrainingSettings()
    settings.granularities = [2, 4]
    settings.steps = steps
    settings.replaceStart = 1
    settings.learningRate = 3e-3
    settings.warmupSteps = 0
    settings.schedule = "constant"
    settings.initialisation = .random
    settings.localFraction = 0
    settings.weights.crossEntropy = 0
    return settings
  }

  func testEveryPlansHoldOnePlanOfEachGranularityThatFits() {
    let sampler = HybridSampler(sampling: .every, granularities: [2, 3, 6], depths: [.encoder: 6, .decoder: 4], seed: 3)
    for step in 1...20 {
      let plans = sampler.plans(step: step, probability: step.isMultiple(of: 2) ? 1 : 0.3)
      XCTAssertEqual(plans.map { Set($0.modules.map(\.granularity)) }, [[2], [3], [6]], "step \(step)")
      for plan in plans {
        XCTAssertTrue(plan.isCover(encoderDepth: 6, decoderDepth: 4), plan.summary)
        XCTAssertFalse(plan.modules.isEmpty, "step \(step) trains nothing of a granularity")
      }
      XCTAssertEqual(sampler.plans(step: step, probability: step.isMultiple(of: 2) ? 1 : 0.3), plans, "deterministic")
    }
    // At p = 1 every module of every granularity trains each step (g6 fits the encoder only).
    XCTAssertEqual(sampler.plans(step: 5, probability: 1).map(\.modules.count), [3 + 2, 2 + 1, 1])
  }

  func testEveryGranularityTrainsEachStepBesideOneTeacherPass() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 3)
    var settings = Self.hybridOnlySettings(steps: 30)
    settings.sampling = .every
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let trainer = TrainingLoop(
      objective: objective, settings: settings.loopSettings, schedule: CopyBatches(), checkpointFolder: nil, fingerprint: "")
    try trainer.run()
    for span in objective.modules.spans { XCTAssertEqual(objective.steps(of: span), 30, span.id) }
    let losses = trainer.state.losses
    XCTAssertLessThan(losses.suffix(6).reduce(0, +), 0.7 * losses.prefix(6).reduce(0, +), "losses \(losses)")
  }

  func testPartByPartBackwardGivesTheGradientsOfTheWholeLoss() {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 3)
    var settings = Self.hybridOnlySettings(steps: 10)
    settings.sampling = .every
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let batch = CopyBatches().batch(forStep: 1)
    let plans = objective.sampler.plans(step: 1, probability: 1)
    XCTAssertEqual(plans.count, 2)
    let cases: [(String, (Bool) -> HybridLoss)] = [
      ("hybrid", { objective.distillation.loss(batch, plans: plans, backward: $0) }),
      ("local", { objective.distillation.localLoss(batch, backward: $0) }),
    ]
    for (name, loss) in cases {
      objective.modules.zeroGrad()
      let whole = loss(false)
      whole.total.backward()
      let expected = objective.modules.namedParameters().map { ($0.key, $0.parameter.grad?.scalars) }
      objective.modules.zeroGrad()
      let parts = loss(true)
      XCTAssertFalse(parts.total.requiresGrad, "\(name): the returned total carries no graph")
      XCTAssertEqual(parts.total.item(), whole.total.item(), accuracy: 1e-5 * abs(whole.total.item()), name)
      var compared = 0
      for ((key, gradient), named) in zip(expected, objective.modules.namedParameters()) {
        guard let gradient else { continue }
        let actual = try! XCTUnwrap(named.parameter.grad?.scalars, "\(name): \(key) lost its gradient")
        let scale = gradient.map(abs).max() ?? 1
        XCTAssertLessThanOrEqual(zip(actual, gradient).map { abs($0 - $1) }.max() ?? 0, 1e-5 * max(scale, 1e-3), "\(name): \(key)")
        compared += 1
      }
      XCTAssertGreaterThan(compared, 10, "\(name): gradients reached the modules")
    }
  }

  func testModuleSetCoversAlignedSpansAndReportsTheRest() {
    let teacher = TinyTeachers.t5(encoderLayers: 5, decoderLayers: 4, seed: 1)
    let set = ModuleSet(teacher: teacher, granularities: [2, 4, 6], initialisation: .last, seed: 0)
    XCTAssertEqual(
      set.spans.map(\.id), ["decoder.g2.0", "decoder.g2.1", "decoder.g4.0", "encoder.g2.0", "encoder.g2.1", "encoder.g4.0"])
    XCTAssertTrue(set.notes.contains { $0.contains("granularity 2 covers encoder layers 0..<4; layers 4..<5") }, "\(set.notes)")
    XCTAssertTrue(set.notes.contains { $0.contains("granularity 6 does not fit the 5-layer encoder") }, "\(set.notes)")
    // `last` copies the span's last layer, as an independent block.
    let module = set.blocks[ModuleSpan(stack: .encoder, granularity: 2, index: 1)]!
    let key = "layer.0.SelfAttention.q.weight"
    XCTAssertEqual(module.stateDictionary()[key]?.scalars, teacher.encoder.blocks[3].stateDictionary()[key]?.scalars)
    XCTAssertFalse(module.parameters()[0] === teacher.encoder.blocks[3].parameters()[0])
  }

  func testTrainingLowersTheLossAndLeavesTheTeacherAlone() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 3)
    let before = teacher.stateDictionary()
    let settings = Self.hybridOnlySettings(steps: 40)
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let trainer = TrainingLoop(
      objective: objective, settings: settings.loopSettings, schedule: CopyBatches(), checkpointFolder: nil, fingerprint: "")
    try trainer.run()
    let losses = trainer.state.losses
    XCTAssertEqual(losses.count, 40)
    let first = losses.prefix(8).reduce(0, +) / 8, last = losses.suffix(8).reduce(0, +) / 8
    XCTAssertLessThan(last, 0.7 * first, "losses \(losses)")
    XCTAssertEqual(teacher.stateDictionary().mapValues(\.scalars), before.mapValues(\.scalars), "the teacher must stay frozen")
    XCTAssertGreaterThan(trainer.state.counters.values.reduce(0, +), 0)
    XCTAssertEqual(objective.counters, trainer.state.counters)
  }

  func testLocalStepsTrainEveryModuleAloneOnTheTeachersStates() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 3)
    var settings = ModuleTrainingSettings()
    settings.granularities = [2, 4]
    settings.steps = 31
    settings.localFraction = 30.5 / 31
    settings.learningRate = 3e-3
    settings.warmupSteps = 0
    settings.schedule = "constant"
    settings.initialisation = .random
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let trainer = TrainingLoop(
      objective: objective, settings: settings.loopSettings, schedule: CopyBatches(), checkpointFolder: nil, fingerprint: "")
    var stages: [String] = []
    try trainer.run { progress in stages.append(progress.metrics.first?.name ?? "") }
    XCTAssertEqual(stages.prefix(30).filter { $0 == "local hidden" }.count, 30)
    XCTAssertEqual(stages.last, "p", "the steps after the local stage are hybrid steps")
    // Every module took part in each local step, plus the hybrid step's modules.
    for span in objective.modules.spans { XCTAssertGreaterThanOrEqual(objective.steps(of: span), 30, span.id) }
    let losses = trainer.state.losses
    XCTAssertLessThan(losses[25..<30].reduce(0, +), 0.5 * losses[0..<5].reduce(0, +), "local losses \(losses)")
  }

  func testTheLocalStageIsAShareOfTheStepsThatLeavesHybridSteps() {
    var settings = ModuleTrainingSettings()
    settings.steps = 10
    settings.localFraction = 1
    XCTAssertEqual(settings.validationProblem()?.key, "local_fraction")
    settings.localFraction = -0.1
    XCTAssertEqual(settings.validationProblem()?.key, "local_fraction")
    settings.localFraction = 0.99
    XCTAssertNil(settings.validationProblem())
    XCTAssertEqual(settings.localSteps, 9)
    settings.steps = 1200
    settings.localFraction = 1.0 / 3
    XCTAssertEqual(settings.localSteps, 400)
  }

  func testResumedRunMatchesAnUninterruptedOne() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("module-resume-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    var settings = ModuleTrainingSettings()
    settings.granularities = [2]
    settings.steps = 6
    settings.checkpointEvery = 3
    settings.sampling = .mixed
    func trainer(_ folder: URL?, steps: Int, context: String = "t") -> TrainingLoop {
      var s = settings
      s.steps = steps
      let objective = ModuleDistillationObjective(teacher: TinyTeachers.t5(encoderLayers: 2, decoderLayers: 4, seed: 4), settings: s)
      return TrainingLoop(
        objective: objective, settings: s.loopSettings, schedule: CopyBatches(), checkpointFolder: folder,
        fingerprint: s.fingerprint + "|" + context)
    }
    func modules(_ loop: TrainingLoop) -> ModuleSet { (loop.objective as! ModuleDistillationObjective).modules }
    let straight = trainer(nil, steps: 6)
    try straight.run()

    let file = folder.appendingPathComponent("checkpoint")
    let interrupted = trainer(file, steps: 6)
    // Dies after the step-3 checkpoint.
    XCTAssertThrowsError(try interrupted.run { if $0.step == 4 { throw CancellationError() } })
    let resumed = trainer(file, steps: 6)
    try resumed.resume()
    XCTAssertEqual(resumed.state.step, 3)
    try resumed.run()
    XCTAssertEqual(resumed.state.losses, straight.state.losses)
    XCTAssertEqual(modules(resumed).stateDictionary().mapValues(\.scalars), modules(straight).stateDictionary().mapValues(\.scalars))
    XCTAssertEqual(resumed.state.counters, straight.state.counters)

    // Other settings or another teacher/data context are refused.
    XCTAssertThrowsError(try trainer(file, steps: 8).resume()) { XCTAssertTrue("\($0)".contains("other settings"), "\($0)") }
    XCTAssertThrowsError(try trainer(file, steps: 6, context: "other").resume())
  }

  func testBadSettingsNameTheField() {
    func decode(_ json: String) -> String {
      do {
        _ = try JSONDecoder().decode(ModuleTrainingSettings.self, from: Data(json.utf8))
        return "accepted"
      } catch { return "\(error)" }
    }
    XCTAssertTrue(decode(#"{"granularities": [1, 2]}"#).contains("at least 2"))
    XCTAssertTrue(decode(#"{"sampling": "sometimes"}"#).contains("sampling") || decode(#"{"sampling": "sometimes"}"#).contains("HybridSampling"))
    XCTAssertTrue(decode(#"{"replace_ramp": 0}"#).contains("(0, 1]"))
    XCTAssertTrue(decode(#"{"weights": {"hidden": -1}}"#).contains("non-negative"))
    XCTAssertEqual(decode(#"{"steps": 10, "sampling": "mixed", "initialisation": "middle"}"#), "accepted")
  }

  func testProbabilityRampsToOne() {
    var settings = ModuleTrainingSettings()
    settings.steps = 100
    settings.replaceStart = 0.5
    settings.replaceRamp = 0.5
    XCTAssertEqual(settings.replaceProbability(at: 1), 0.5)
    XCTAssertEqual(settings.replaceProbability(at: 26), 0.75, accuracy: 1e-6)
    XCTAssertEqual(settings.replaceProbability(at: 51), 1)
    XCTAssertEqual(settings.replaceProbability(at: 100), 1)
  }
}
