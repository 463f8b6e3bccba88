import Foundation
import NeuralLayers
import TensorCore

/// Gives the batch of each step; must be a pure function of the step so that
/// a resumed run sees exactly the batches an uninterrupted one would.
public protocol BatchSchedule {
  func batch(forStep step: Int) -> Seq2SeqBatch
}

/// A training run refused before it starts, or stopped by a bad step.
public struct TrainingError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A named number an objective reports with each step (`p`, `hidden g2`).
public struct TrainingMetric: Sendable, Equatable {
  public var name: String
  public var value: Float
  public init(_ name: String, _ value: Float) {
    self.name = name
    self.value = value
  }
}

/// The loss of one step: the tensor to differentiate and numbers for progress.
public struct ObjectiveLoss {
  public var total: Tensor
  public var metrics: [TrainingMetric]
  /// True when the objective already ran the backward pass, part by part (so
  /// that one part's graph is alive at a time): `total` is then a plain value
  /// and the gradients are in the parameters.
  public var isBackpropagated: Bool
  public init(total: Tensor, metrics: [TrainingMetric] = [], isBackpropagated: Bool = false) {
    self.total = total
    self.metrics = metrics
    self.isBackpropagated = isBackpropagated
  }

  /// Runs the backward pass unless the objective already did.
  public func backward() {
    if !isBackpropagated { total.backward() }
  }
}

/// What one kind of training optimises (a teacher's cross-entropy, module
/// distillation, a baseline): ``TrainingLoop`` does everything else.
///
/// Losses must depend only on the step and the batch (draw any randomness
/// from generators seeded by the step), so that a resumed run repeats an
/// uninterrupted one exactly.
public protocol TrainingObjective: AnyObject {
  /// Stored in checkpoints; a checkpoint of one kind never resumes another.
  var kind: String { get }
  /// What is trained; the optimizer updates its trainable parameters.
  var trainable: any ParameterContainer { get }
  /// Counters kept in checkpoints (e.g. the steps each module took part in).
  var counters: [String: Int] { get set }
  /// The model whose vocabulary and limits every batch must fit; checked
  /// before a batch reaches an embedding lookup.
  var inputModel: any Seq2SeqModel { get }
  /// The loss of `step` on `batch`, with gradients.
  func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss
  /// Mean loss over `batches`, run without gradients; nil if the objective does not validate.
  func validationLoss(_ batches: [Seq2SeqBatch]) -> Float?
  /// Called after each optimizer update, before anything reads the weights
  /// (a pruned model zeroes its removed weights again here).
  func didUpdate(step: Int)
  /// Writes the trained weights (and anything that makes the folder usable) into a checkpoint folder being built.
  func writeCheckpoint(into folder: URL) throws
  /// Loads the weights ``writeCheckpoint(into:)`` wrote.
  func restoreCheckpoint(from folder: URL) throws
  /// Told once by the loop which processes share each step. The loop weights
  /// each process's loss by its share of the real target tokens, which is
  /// exact for token means; an objective with terms normalised otherwise
  /// (by a data-dependent sum) sums those normalisers over the processes here.
  func join(_ communicator: any Communicator)
}

extension TrainingObjective {
  public func join(_ communicator: any Communicator) {}
  public func didUpdate(step: Int) {}
}

/// The settings the loop itself needs (each objective's settings give theirs).
public struct TrainingLoopSettings: Sendable, Equatable {
  public var steps: Int
  public var learningRate: Float
  public var schedule: LearningRateSchedule
  public var weightDecay: Float
  /// Gradients are scaled to at most this global norm; 0 turns clipping off.
  public var clipNorm: Float
  /// Steps between validations; nil never validates (the last step always does, if any).
  public var validateEvery: Int?
  public var checkpointEvery: Int

  public init(
    steps: Int, learningRate: Float, schedule: LearningRateSchedule, weightDecay: Float, clipNorm: Float,
    validateEvery: Int?, checkpointEvery: Int
  ) {
    self.steps = steps
    self.learningRate = learningRate
    self.schedule = schedule
    self.weightDecay = weightDecay
    self.clipNorm = clipNorm
    self.validateEvery = validateEvery
    self.checkpointEvery = checkpointEvery
  }
}

/// What the loop reports after each step (the CLI draws a progress bar).
public struct TrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var loss: Float
  public var tokensPerSecond: Double
  /// Set on the steps that validated.
  public var validationLoss: Float?
  /// The objective's numbers for this step.
  public var metrics: [TrainingMetric]
}

/// The one training loop: AdamW with a learning-rate schedule, finite checks
/// of every loss and gradient, gradient all-reduce and clipping, validation,
/// and checkpoints (``TrainingCheckpoint``) that `resume` continues exactly.
///
/// Data-parallel over a ``Communicator`` of several processes: each step's
/// batch (the same on every process) is cut into one block of examples per
/// process, gradients and the loss are summed weighted by each block's share
/// of the real target tokens, and every process takes the same update. The
/// first process alone validates, checkpoints and reports progress. Batches
/// and dropout masks do not depend on the number of processes, so a run
/// resumes under another count.
public final class TrainingLoop {
  public let objective: any TrainingObjective
  public let settings: TrainingLoopSettings
  public let optimizer: AdamW
  public let communicator: any Communicator
  let schedule: BatchSchedule
  let validation: [Seq2SeqBatch]
  let checkpointFolder: URL?
  public private(set) var state: TrainerState

  /// `fingerprint` names everything that changes the losses (settings,
  /// model, data): a checkpoint written under another one is not resumed.
  public init(
    objective: any TrainingObjective, settings: TrainingLoopSettings, schedule: BatchSchedule,
    validation: [Seq2SeqBatch] = [], checkpointFolder: URL?, fingerprint: String,
    communicator: any Communicator = SingleProcessCommunicator()
  ) {
    self.objective = objective
    self.settings = settings
    self.schedule = schedule
    self.validation = validation
    self.checkpointFolder = checkpointFolder
    self.communicator = communicator
    optimizer = AdamW(
      objective.trainable,
      configuration: AdamWConfiguration(learningRate: settings.learningRate, weightDecay: settings.weightDecay))
    state = TrainerState(objective: objective.kind, fingerprint: fingerprint)
    objective.join(communicator)
  }

  /// Restores the checkpoint; refuses one of another objective or written
  /// with other settings, model or data. A folder a killed swap left missing is brought back first.
  public func resume() throws {
    guard let checkpointFolder else { throw TrainingError("resuming needs a checkpoint folder") }
    let restored = try TrainingCheckpoint.readState(at: checkpointFolder)
    guard restored.objective == state.objective else {
      throw TrainingError(
        "\(checkpointFolder.path): holds a '\(restored.objective)' checkpoint, not a '\(state.objective)' one")
    }
    guard restored.fingerprint == state.fingerprint else {
      throw TrainingError(
        "\(checkpointFolder.path): the checkpoint was written with other settings, model or data; "
          + "use the same ones to resume, or start over")
    }
    try objective.restoreCheckpoint(from: checkpointFolder)
    try TrainingCheckpoint.restoreOptimizer(optimizer, from: checkpointFolder)
    objective.counters = restored.counters
    state = restored
  }

  /// Starts a fresh run after `step` instead of step 0, with the weights the
  /// caller set (a lottery round retrains from its rewind point): the
  /// optimizer starts fresh; the batches and the learning-rate schedule go on
  /// from `step`, as in the run that step was taken from.
  public func start(afterStep step: Int) throws {
    guard state.step == 0, state.firstStep == nil else { throw TrainingError("a run can only be started after a step before its first step") }
    guard (0..<settings.steps).contains(step) else {
      throw TrainingError("a run of \(settings.steps) steps cannot start after step \(step)")
    }
    state.step = step
    state.firstStep = step > 0 ? step : nil
  }

  /// Mean validation loss of the objective (nil without validation batches).
  public func validationLoss() -> Float? {
    validation.isEmpty ? nil : withoutGradient { objective.validationLoss(validation) }
  }

  /// Trains until `settings.steps`, checkpointing as configured.
  public func run(progress: (TrainingProgress) throws -> Void = { _ in }) throws {
    let start = Date()
    var tokens = 0
    let parameters = optimizer.namedParameters
    let (rank, size) = (communicator.rank, communicator.size)
    if size > 1 { try prepareReplicas() }
    while state.step < settings.steps {
      let stepStart = Date()
      let step = state.step + 1
      let whole = schedule.batch(forStep: step)
      let batch: Seq2SeqBatch
      do {
        batch = try whole.shard(rank: rank, size: size)
        try objective.inputModel.validate(batch)
      } catch { throw TrainingError("step \(step): \(error)") }
      optimizer.zeroGrad()
      let loss = objective.loss(step: step, batch: batch)
      var value = loss.total.item()
      guard value.isFinite else { throw TrainingError("training diverged at step \(step): the loss is \(value)") }
      loss.backward()
      if size > 1 {
        value = try GradientExchange.combine(
          parameters.map(\.parameter), share: batch.tokenShare, loss: value, over: communicator)
      }
      let withGradient = parameters.filter { $0.parameter.grad != nil }
      try Self.checkFinite(withGradient, step: step)
      if settings.clipNorm > 0 { clipGradientNorm(withGradient.map(\.parameter), maxNorm: settings.clipNorm) }
      optimizer.update(learningRate: settings.schedule.rate(at: step, base: settings.learningRate))
      objective.didUpdate(step: step)
      let batchTokens = whole.countedTargets + Int(whole.sourceKeep.reduce(0, +))
      tokens += batchTokens
      state.tokens += batchTokens
      state.step = step
      state.losses.append(value)
      state.seconds += Date().timeIntervalSince(stepStart)
      guard communicator.isLeader else { continue }
      var validated: Float?
      if let every = settings.validateEvery, step % every == 0 || step == settings.steps, let loss = validationLoss() {
        guard loss.isFinite else { throw TrainingError("validation at step \(step) gave a loss of \(loss)") }
        validated = loss
        state.validations.append(ValidationRecord(step: step, loss: loss))
      }
      if let checkpointFolder, step % settings.checkpointEvery == 0 || step == settings.steps {
        state.counters = objective.counters
        try TrainingCheckpoint.write(state: state, objective: objective, optimizer: optimizer, to: checkpointFolder)
      }
      let elapsed = Date().timeIntervalSince(start)
      try progress(TrainingProgress(
        step: step, totalSteps: settings.steps, loss: value, tokensPerSecond: elapsed > 0 ? Double(tokens) / elapsed : 0,
        validationLoss: validated, metrics: loss.metrics))
    }
    state.counters = objective.counters
  }

  /// Before the first step of several processes: all must stand at the same
  /// step (each read the checkpoint), and all take the first one's weights.
  private func prepareReplicas() throws {
    var leaderStep = Int64(state.step)
    try withUnsafeMutableBytes(of: &leaderStep) { try communicator.broadcast($0.baseAddress!, count: $0.count, root: 0) }
    guard leaderStep == Int64(state.step) else {
      throw TrainingError(
        "rank \(communicator.rank) stands at step \(state.step) but rank 0 at step \(leaderStep): every process must read "
          + "the same checkpoint (put the output on a file system all of them share)")
    }
    try GradientExchange.broadcastValues(optimizer.namedParameters.map(\.parameter), over: communicator)
  }

  /// A NaN or infinite gradient is an error naming the step and the first parameter that has one.
  static func checkFinite(_ parameters: [(key: String, parameter: Parameter)], step: Int) throws {
    for (key, parameter) in parameters {
      var isFinite = true
      parameter.grad?.withValues { values in isFinite = !values.contains { !$0.isFinite } }
      guard isFinite else { throw TrainingError("training diverged at step \(step): the gradient of '\(key)' is not finite") }
    }
  }
}
