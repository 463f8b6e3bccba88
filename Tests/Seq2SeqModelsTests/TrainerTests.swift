import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// Random copy-task batches: target = source, drawn from a generator seeded by the step.
struct CopyTaskSchedule: BatchSchedule {
  let vocabulary = 3..<9
  let batchSize = 8
  let length = 6

  func batch(forStep step: Int) -> Seq2SeqBatch {
    var generator = SeededRandom(seed: 11).split(UInt64(step))
    var sources: [Int] = [], keep: [Float] = [], decoderIDs: [Int] = [], labels: [Int] = []
    for _ in 0..<batchSize {
      let count = 2 + generator.nextInt(below: length - 2)
      let tokens = (0..<count).map { _ in vocabulary.lowerBound + generator.nextInt(below: vocabulary.count) } + [1]
      let padding = length - tokens.count
      sources += tokens + [Int](repeating: 0, count: padding)
      keep += [Float](repeating: 1, count: tokens.count) + [Float](repeating: 0, count: padding)
      let target = tokens + [Int](repeating: -100, count: padding)
      labels += target
      decoderIDs += [0] + target.dropLast().map { $0 == -100 ? 0 : $0 }
    }
    return Seq2SeqBatch(
      batchSize: batchSize, sourceLength: length, sourceIDs: sources, sourceKeep: keep, targetLength: length,
      decoderInputIDs: decoderIDs, labels: labels)
  }
}

final class TrainerTests: XCTestCase {
  private func makeTrainer(
    steps: Int, folder: URL?, dropout: Float = 0.1, schedule: String = "linear", learningRate: Float = 3e-3
  ) -> TrainingLoop {
    var generator = SeededRandom(seed: 5)
    var config = TinyModels.t5(encoderLayers: 2, decoderLayers: 2)
    config.dModel = 32
    config.dFf = 64
    config.dKv = 8
    config.numHeads = 4
    config.dropoutRate = dropout
    let model = T5Model(config, using: &generator)
    var parameters = TrainingParameters()
    parameters.steps = steps
    parameters.learningRate = learningRate
    parameters.schedule = schedule
    parameters.warmupSteps = 20
    parameters.checkpointEvery = 5
    parameters.validateEvery = 50
    parameters.seed = 3
    let schedule = CopyTaskSchedule()
    return TrainingLoop(
      objective: CrossEntropyObjective(model: model, parameters: parameters), settings: parameters.loopSettings,
      schedule: schedule, validation: [schedule.batch(forStep: 10_000)], checkpointFolder: folder,
      fingerprint: parameters.fingerprint)
  }

  private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("tessera-resume-\(UUID().uuidString)")
  }

  /// The copy task is learnt: validation loss falls below 0.5 nats per token (from ~3).
  func testTeacherLearnsCopyTask() throws {
    let trainer = makeTrainer(steps: 300, folder: nil, dropout: 0, schedule: "constant")
    let initial = try XCTUnwrap(trainer.validationLoss())
    try trainer.run()
    let final = try XCTUnwrap(trainer.validationLoss())
    XCTAssertGreaterThan(initial, 1.5)
    XCTAssertLessThan(final, 0.5, "validation loss \(initial) → \(final)")
    XCTAssertEqual(trainer.state.losses.count, 300)
  }

  /// A run started after step 4 with step 4's weights takes steps 5… on their
  /// batches and dropout (its first loss, taken before any update, is the
  /// uninterrupted run's at step 5); it starts only before its first step and before its last.
  func testRunStartedAfterAStepContinuesFromIt() throws {
    let straight = makeTrainer(steps: 12, folder: nil)
    var atFour: [String: Tensor] = [:]
    try straight.run { if $0.step == 4 { atFour = straight.objective.trainable.stateDictionary() } }
    let later = makeTrainer(steps: 12, folder: nil)
    try later.objective.trainable.loadStateDictionary(atFour)
    try later.start(afterStep: 4)
    var steps: [Int] = []
    try later.run { steps.append($0.step) }
    XCTAssertEqual(steps, Array(5...12))
    XCTAssertEqual(later.state.losses.count, 8)
    XCTAssertEqual(later.state.losses.first, straight.state.losses[4])
    XCTAssertEqual(later.state.firstStep, 4)
    XCTAssertThrowsError(try later.start(afterStep: 0))
    XCTAssertThrowsError(try makeTrainer(steps: 12, folder: nil).start(afterStep: 12))
  }

  /// Stopping after a checkpoint and resuming gives exactly the losses of one run.
  func testResumedRunMatchesUninterruptedRun() throws {
    let folder = temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let straight = makeTrainer(steps: 12, folder: nil)
    try straight.run()

    let first = makeTrainer(steps: 12, folder: folder)
    var stoppedAt = 0
    // Run only to the first checkpoint (step 5), as if killed at step 7.
    final class Stop: Error {}
    do {
      try first.run { progress in
        stoppedAt = progress.step
        if progress.step == 7 { throw Stop() }
      }
    } catch is Stop {}
    XCTAssertEqual(stoppedAt, 7)
    let resumed = makeTrainer(steps: 12, folder: folder)
    try resumed.resume()
    XCTAssertEqual(resumed.state.step, 5)
    try resumed.run()
    XCTAssertEqual(resumed.state.losses, straight.state.losses)
    // The checkpoint is a model folder that loads as a model.
    XCTAssertEqual(try ModelLoading.load(from: folder).encoder.depth, 2)
  }

  func testResumeRefusesOtherSettings() throws {
    let folder = temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    try makeTrainer(steps: 5, folder: folder).run()
    let other = makeTrainer(steps: 9, folder: folder)
    XCTAssertThrowsError(try other.resume()) { error in
      XCTAssertTrue(String(describing: error).contains("other settings"), "\(error)")
    }
  }

  /// A checkpoint written before the format carried a version still loads as a model but is not resumed.
  func testOlderCheckpointLoadsAsAModelButIsNotResumed() throws {
    let folder = temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    try makeTrainer(steps: 5, folder: folder).run()
    let state = folder.appendingPathComponent(TrainingCheckpoint.stateFileName)
    try Data(#"{"step": 5, "losses": [1, 1, 1, 1, 1], "validations": [], "fingerprint": "x"}"#.utf8).write(to: state)
    XCTAssertNoThrow(try ModelLoading.load(from: folder))
    XCTAssertThrowsError(try makeTrainer(steps: 5, folder: folder).resume()) { error in
      XCTAssertTrue("\(error)".contains("older Tessera"), "\(error)")
      XCTAssertTrue("\(error)".contains(state.path), "\(error)")
    }
  }

  /// A loss that overflows stops the run with an error naming the step, before any update.
  func testDivergedLossNamesTheStep() throws {
    let trainer = makeTrainer(steps: 3, folder: nil, learningRate: .greatestFiniteMagnitude)
    XCTAssertThrowsError(try trainer.run()) { error in
      XCTAssertTrue("\(error)".contains("diverged at step"), "\(error)")
    }
  }

  /// A NaN gradient is an error naming the step and the parameter, and nothing is updated.
  func testNonFiniteGradientNamesTheParameter() throws {
    /// Rank 0 of two whose exchange brings back a NaN in the first gradient.
    final class PoisonedGradients: Communicator {
      var rank: Int { 0 }
      var size: Int { 2 }
      private var calls = 0
      func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        calls += 1
        // The first call of a step sums which parameters have gradients, the second the gradients.
        if calls % 2 == 0 { values[0] = .nan }
      }
      func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) throws {}
      func barrier() throws {}
      func abort(_ message: String, code: Int32) -> Never { fatalError(message) }
      func finish() {}
    }
    var parameters = TrainingParameters()
    parameters.steps = 2
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(encoderLayers: 1, decoderLayers: 1), using: &generator)
    let before = model.stateDictionary().mapValues(\.scalars)
    let loop = TrainingLoop(
      objective: CrossEntropyObjective(model: model, parameters: parameters), settings: parameters.loopSettings,
      schedule: CopyTaskSchedule(), checkpointFolder: nil, fingerprint: "", communicator: PoisonedGradients())
    XCTAssertThrowsError(try loop.run()) { error in
      XCTAssertTrue("\(error)".contains("step 1"), "\(error)")
      XCTAssertTrue("\(error)".contains("gradient of '"), "\(error)")
    }
    XCTAssertEqual(model.stateDictionary().mapValues(\.scalars), before)
  }

  /// Another objective (a baseline, say) plugs into the same loop, and never resumes a teacher's checkpoint.
  func testAnotherObjectiveRefusesATeacherCheckpoint() throws {
    /// Cross-entropy under another name: what a baseline objective would look like to the loop.
    final class RenamedObjective: TrainingObjective {
      let wrapped: CrossEntropyObjective
      init(_ wrapped: CrossEntropyObjective) { self.wrapped = wrapped }
      var kind: String { "baseline" }
      var trainable: any ParameterContainer { wrapped.trainable }
      var inputModel: any Seq2SeqModel { wrapped.inputModel }
      var counters: [String: Int] = [:]
      func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss { wrapped.loss(step: step, batch: batch) }
      func validationLoss(_ batches: [Seq2SeqBatch]) -> Float? { wrapped.validationLoss(batches) }
      func writeCheckpoint(into folder: URL) throws { try wrapped.writeCheckpoint(into: folder) }
      func restoreCheckpoint(from folder: URL) throws { try wrapped.restoreCheckpoint(from: folder) }
    }
    let folder = temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = makeTrainer(steps: 5, folder: folder)
    try teacher.run()
    let objective = RenamedObjective(teacher.objective as! CrossEntropyObjective)
    let baseline = TrainingLoop(
      objective: objective, settings: teacher.settings, schedule: CopyTaskSchedule(), checkpointFolder: folder,
      fingerprint: teacher.state.fingerprint)
    XCTAssertThrowsError(try baseline.resume()) { error in
      XCTAssertTrue("\(error)".contains("holds a 'teacher' checkpoint, not a 'baseline' one"), "\(error)")
    }
  }
}
