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
  private func makeTrainer(steps: Int, folder: URL?, dropout: Float = 0.1, schedule: String = "linear") -> Seq2SeqTrainer {
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
    parameters.learningRate = 3e-3
    parameters.schedule = schedule
    parameters.warmupSteps = 20
    parameters.checkpointEvery = 5
    parameters.validateEvery = 50
    parameters.seed = 3
    let schedule = CopyTaskSchedule()
    return Seq2SeqTrainer(
      model: model, parameters: parameters, schedule: schedule, validation: [schedule.batch(forStep: 10_000)],
      checkpointFolder: folder)
  }

  /// The copy task is learnt: validation loss falls below 0.5 nats per token (from ~3).
  func testTeacherLearnsCopyTask() throws {
    let trainer = makeTrainer(steps: 300, folder: nil, dropout: 0, schedule: "constant")
    let initial = trainer.validationLoss()
    try trainer.run()
    let final = trainer.validationLoss()
    XCTAssertGreaterThan(initial, 1.5)
    XCTAssertLessThan(final, 0.5, "validation loss \(initial) → \(final)")
    XCTAssertEqual(trainer.state.losses.count, 300)
  }

  /// Stopping after a checkpoint and resuming gives exactly the losses of one run.
  func testResumedRunMatchesUninterruptedRun() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-resume-\(UUID().uuidString)")
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
  }

  func testResumeRefusesOtherSettings() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-resume-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try makeTrainer(steps: 5, folder: folder).run()
    let other = makeTrainer(steps: 9, folder: folder)
    XCTAssertThrowsError(try other.resume()) { error in
      XCTAssertTrue(String(describing: error).contains("other training settings"))
    }
  }
}
