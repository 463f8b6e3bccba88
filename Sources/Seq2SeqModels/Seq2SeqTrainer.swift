import Foundation
import NeuralLayers
import TensorCore
import Tokenizers

/// Settings of a training run; Codable with snake_case keys for recipes.
public struct TrainingParameters: Codable, Sendable, Equatable, NamedLearningRateSchedule {
  public var steps = 1000
  public var learningRate: Float = 1e-3
  public var warmupSteps = 100
  /// `linear` (warm-up then linear decay), `inverse_sqrt` or `constant`.
  public var schedule = "linear"
  public var weightDecay: Float = 0.01
  public var clipNorm: Float = 1
  public var labelSmoothing: Float = 0
  /// Dropout while training; nil takes the model configuration's rate.
  public var dropout: Float?
  public var validateEvery = 200
  public var checkpointEvery = 200
  public var seed: UInt64 = 0

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case steps, learningRate = "learning_rate", warmupSteps = "warmup_steps", schedule, weightDecay = "weight_decay"
    case clipNorm = "clip_norm", labelSmoothing = "label_smoothing", dropout, validateEvery = "validate_every"
    case checkpointEvery = "checkpoint_every", seed
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = TrainingParameters()
    steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
    warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
    schedule = try c.decodeIfPresent(String.self, forKey: .schedule) ?? d.schedule
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
    clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm) ?? d.clipNorm
    labelSmoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? d.labelSmoothing
    dropout = try c.decodeIfPresent(Float.self, forKey: .dropout)
    validateEvery = try c.decodeIfPresent(Int.self, forKey: .validateEvery) ?? d.validateEvery
    checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    if let problem = problem() {
      throw DecodingError.dataCorruptedError(forKey: problem.key, in: c, debugDescription: problem.message)
    }
  }

  /// The first invalid field (its recipe key) and why, if any.
  public func validationProblem() -> (key: String, message: String)? {
    problem().map { ($0.key.stringValue, $0.message) }
  }

  func problem() -> (key: CodingKeys, message: String)? {
    if steps <= 0 { return (.steps, "must be positive, got \(steps)") }
    if !(learningRate > 0 && learningRate.isFinite) { return (.learningRate, "must be a positive finite number, got \(learningRate)") }
    if !(weightDecay >= 0 && weightDecay.isFinite) { return (.weightDecay, "must be a finite number ≥ 0, got \(weightDecay)") }
    if !(clipNorm >= 0 && clipNorm.isFinite) { return (.clipNorm, "must be a finite number ≥ 0, got \(clipNorm)") }
    if warmupSteps < 0 { return (.warmupSteps, "must not be negative") }
    if !LearningRateSchedule.names.contains(schedule) {
      return (.schedule, "unknown schedule '\(schedule)'; expected linear, inverse_sqrt or constant")
    }
    if !(0..<1).contains(labelSmoothing) { return (.labelSmoothing, "must be in [0, 1), got \(labelSmoothing)") }
    if let dropout, !(0..<1).contains(dropout) { return (.dropout, "must be in [0, 1), got \(dropout)") }
    if validateEvery <= 0 { return (.validateEvery, "must be positive") }
    if checkpointEvery <= 0 { return (.checkpointEvery, "must be positive") }
    return nil
  }

  /// A stable text of the settings that change the losses (resume must match it).
  var fingerprint: String {
    var copy = self
    copy.validateEvery = 1
    copy.checkpointEvery = 1
    return stableJSONText(copy)
  }
}

/// What the trainer reports after each step (the CLI draws a progress bar).
public struct TrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var loss: Float
  public var tokensPerSecond: Double
  public var validationLoss: Float?
}

/// Gives the batch of each step; must be a pure function of the step so that
/// a resumed run sees exactly the batches an uninterrupted one would.
public protocol BatchSchedule {
  func batch(forStep step: Int) -> Seq2SeqBatch
}

/// A training run refused before it starts.
public struct TrainingError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// Teacher-forced training with AdamW, a schedule, clipping, validation and
/// atomic checkpoints every N steps; `resume` continues from the last one.
public final class Seq2SeqTrainer {
  public let model: any Seq2SeqModel
  public let parameters: TrainingParameters
  public let optimizer: AdamW
  let schedule: BatchSchedule
  let validation: [Seq2SeqBatch]
  let checkpointFolder: URL?
  /// Saved with every checkpoint, so each is a complete model folder.
  public var tokenizer: (any TextTokenizer)?
  public private(set) var state: TrainerState

  public init(
    model: any Seq2SeqModel, parameters: TrainingParameters, schedule: BatchSchedule, validation: [Seq2SeqBatch],
    checkpointFolder: URL?
  ) {
    self.model = model
    self.parameters = parameters
    self.schedule = schedule
    self.validation = validation
    self.checkpointFolder = checkpointFolder
    optimizer = AdamW(model, configuration: AdamWConfiguration(learningRate: parameters.learningRate, weightDecay: parameters.weightDecay))
    state = TrainerState(fingerprint: parameters.fingerprint)
  }

  /// Restores the last checkpoint; refuses one written with other settings.
  public func resume() throws {
    guard let checkpointFolder else { throw TrainingError("--resume needs a checkpoint folder") }
    let restored = try TrainingCheckpoint.restore(into: model, optimizer: optimizer, from: checkpointFolder)
    guard restored.fingerprint == state.fingerprint else {
      throw TrainingError(
        "\(checkpointFolder.path): the checkpoint was written with other training settings; use the same ones or start afresh")
    }
    state = restored
  }

  /// Mean validation loss over the validation batches (token-weighted).
  public func validationLoss() -> Float {
    withoutGradient {
      var total: Double = 0, tokens = 0
      for batch in validation {
        let count = batch.countedTargets
        total += Double(model.loss(logits: model.forward(batch), batch: batch).item()) * Double(count)
        tokens += count
      }
      return tokens > 0 ? Float(total / Double(tokens)) : .nan
    }
  }

  /// Trains until `parameters.steps`, checkpointing as configured.
  public func run(progress: (TrainingProgress) throws -> Void = { _ in }) throws {
    let rate = parameters.dropout ?? model.dropoutRate
    let lrSchedule = parameters.learningRateSchedule
    let start = Date()
    var tokens = 0
    while state.step < parameters.steps {
      let step = state.step + 1
      let batch = schedule.batch(forStep: step)
      // Masks depend only on (seed, step): resumed runs draw the same ones.
      let dropout = Dropout(rate: rate, generator: SeededRandom(seed: parameters.seed, stream: 7).split(UInt64(step)))
      optimizer.zeroGrad()
      let loss = model.loss(logits: model.forward(batch, dropout: dropout.closure), batch: batch, labelSmoothing: parameters.labelSmoothing)
      let value = loss.item()
      guard value.isFinite else { throw TrainingError("training diverged at step \(step): loss is \(value)") }
      loss.backward()
      clipGradientNorm(optimizer.parameters, maxNorm: parameters.clipNorm)
      optimizer.update(learningRate: lrSchedule.rate(at: step, base: parameters.learningRate))
      tokens += batch.countedTargets + batch.sourceKeep.reduce(0) { $0 + Int($1) }
      state.step = step
      state.losses.append(value)
      var validated: Float?
      if step % parameters.validateEvery == 0 || step == parameters.steps, !validation.isEmpty {
        let loss = validationLoss()
        validated = loss
        state.validations.append(ValidationRecord(step: step, loss: loss))
      }
      if let checkpointFolder, step % parameters.checkpointEvery == 0 || step == parameters.steps {
        try TrainingCheckpoint.save(model: model, optimizer: optimizer, state: state, to: checkpointFolder, tokenizer: tokenizer)
      }
      let elapsed = Date().timeIntervalSince(start)
      try progress(TrainingProgress(
        step: step, totalSteps: parameters.steps, loss: value, tokensPerSecond: elapsed > 0 ? Double(tokens) / elapsed : 0,
        validationLoss: validated))
    }
  }
}
