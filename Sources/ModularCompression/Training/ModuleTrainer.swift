import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// The resumable state of a module training run besides the weights.
public struct ModuleTrainerState: Codable, Sendable, Equatable {
  public var step = 0
  /// Total loss of every step so far (index = step − 1).
  public var losses: [Float] = []
  /// Steps each module took part in, by module id.
  public var moduleSteps: [String: Int] = [:]
  /// Settings, teacher and data the run started with; resuming with others is refused.
  public var fingerprint: String

  enum CodingKeys: String, CodingKey {
    case step, losses, moduleSteps = "module_steps", fingerprint
  }
}

/// What the trainer reports after each step.
public struct ModuleTrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var loss: Float
  /// Replacement probability of this step.
  public var probability: Float
  /// Granularity drawn this step (per-step sampling), nil for mixed covers.
  public var granularity: Int?
  /// Running mean of the relative hidden-state error of each granularity's modules.
  public var hiddenErrorByGranularity: [Int: Float]
  public var tokensPerSecond: Double
}

/// Trains every module of a ``ModuleSet`` in one run against a frozen teacher:
/// each step draws a hybrid (``HybridSampler``), runs it beside the teacher
/// (``HybridDistillation``) and updates the modules that took part.
///
/// Checkpoints are one safetensors file (modules, optimizer moments and the
/// state as metadata) written atomically, so a killed run resumes from the last
/// one and continues with exactly the losses an uninterrupted run would have.
public final class ModuleTrainer {
  public let teacher: any Seq2SeqModel
  public let modules: ModuleSet
  public let settings: ModuleTrainingSettings
  public let optimizer: AdamW
  let schedule: BatchSchedule
  let checkpointFile: URL?
  let sampler: HybridSampler
  let distillation: HybridDistillation
  public private(set) var state: ModuleTrainerState

  /// `context` names the teacher and data (e.g. their fingerprints): it joins
  /// the settings in the fingerprint a resumed run must match.
  public init(
    teacher: any Seq2SeqModel, settings: ModuleTrainingSettings, schedule: BatchSchedule, checkpointFile: URL?,
    context: String = ""
  ) {
    teacher.freeze()
    self.teacher = teacher
    self.settings = settings
    self.schedule = schedule
    self.checkpointFile = checkpointFile
    modules = ModuleSet(
      teacher: teacher, granularities: settings.granularities, initialisation: settings.initialisation, seed: settings.seed)
    optimizer = AdamW(
      modules, configuration: AdamWConfiguration(learningRate: settings.learningRate, weightDecay: settings.weightDecay))
    sampler = HybridSampler(
      sampling: settings.sampling, granularities: Array(Set(modules.spans.map(\.granularity))).sorted(),
      depths: [.encoder: teacher.encoder.depth, .decoder: teacher.decoder.depth], seed: settings.seed)
    distillation = HybridDistillation(
      teacher: teacher, modules: modules, weights: settings.weights, temperature: settings.temperature)
    state = ModuleTrainerState(fingerprint: settings.fingerprint + "|" + context)
  }

  /// Restores the checkpoint; refuses one written with other settings, teacher or data.
  public func resume() throws {
    guard let checkpointFile else { throw TrainingError("--resume needs a checkpoint file") }
    guard FileManager.default.fileExists(atPath: checkpointFile.path) else {
      throw TrainingError("\(checkpointFile.path): no checkpoint to resume from")
    }
    let file = try SafeTensorsFile.read(from: checkpointFile)
    guard let json = file.metadata[Self.stateKey],
      let restored = try? JSONDecoder().decode(ModuleTrainerState.self, from: Data(json.utf8))
    else { throw TrainingError("\(checkpointFile.path): not a module training checkpoint (no '\(Self.stateKey)' metadata)") }
    guard restored.fingerprint == state.fingerprint else {
      throw TrainingError(
        "\(checkpointFile.path): the checkpoint was written with other settings, teacher or data; use the same ones or start afresh")
    }
    var weights: [String: Tensor] = [:], moments: [String: Tensor] = [:]
    for (key, tensor) in file.tensors {
      if key.hasPrefix("module.") { weights[String(key.dropFirst(7))] = tensor }
      else if key.hasPrefix("optimizer.") { moments[String(key.dropFirst(10))] = tensor }
      else { throw TrainingError("\(checkpointFile.path): unexpected tensor '\(key)'") }
    }
    try modules.loadStateDictionary(weights, source: checkpointFile.path)
    try optimizer.loadState(moments, source: checkpointFile.path)
    state = restored
  }

  /// Trains until `settings.steps`, checkpointing as configured.
  public func run(progress: (ModuleTrainingProgress) throws -> Void = { _ in }) throws {
    let learningRates = settings.learningRateSchedule
    let start = Date()
    var tokens = 0
    var hiddenErrors: [Int: Float] = [:]
    while state.step < settings.steps {
      let step = state.step + 1
      let batch = schedule.batch(forStep: step)
      let probability = settings.replaceProbability(at: step)
      let (plan, granularity) = sampler.plan(step: step, probability: probability)
      optimizer.zeroGrad()
      let loss = distillation.loss(batch, plan: plan)
      let value = loss.total.item()
      guard value.isFinite else { throw TrainingError("module training diverged at step \(step): loss is \(value)") }
      loss.total.backward()
      clipGradientNorm(optimizer.parameters.filter { $0.grad != nil }, maxNorm: settings.clipNorm)
      optimizer.update(learningRate: learningRates.rate(at: step, base: settings.learningRate))
      for (span, error) in loss.hiddenByModule {
        hiddenErrors[span.granularity] = hiddenErrors[span.granularity].map { 0.9 * $0 + 0.1 * error } ?? error
      }
      for span in plan.modules { state.moduleSteps[span.id, default: 0] += 1 }
      state.step = step
      state.losses.append(value)
      tokens += batch.countedTargets + Int(batch.sourceKeep.reduce(0, +))
      if let checkpointFile, step % settings.checkpointEvery == 0 || step == settings.steps {
        try saveCheckpoint(to: checkpointFile)
      }
      let elapsed = Date().timeIntervalSince(start)
      try progress(ModuleTrainingProgress(
        step: step, totalSteps: settings.steps, loss: value, probability: probability, granularity: granularity,
        hiddenErrorByGranularity: hiddenErrors, tokensPerSecond: elapsed > 0 ? Double(tokens) / elapsed : 0))
    }
  }

  static let stateKey = "module_trainer_state"

  private func saveCheckpoint(to file: URL) throws {
    var tensors: [String: Tensor] = [:]
    for (key, tensor) in modules.stateDictionary() { tensors["module." + key] = tensor }
    for (key, tensor) in optimizer.state() { tensors["optimizer." + key] = tensor }
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let json = String(decoding: try encoder.encode(state), as: UTF8.self)
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try AtomicFile.write(try SafeTensorsFile(tensors: tensors, metadata: [Self.stateKey: json]).serialized(), to: file)
  }
}
