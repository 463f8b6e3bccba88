import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// Module training: every module of a ``ModuleSet`` against a frozen teacher.
/// Each step draws a hybrid (``HybridSampler``) and runs it beside the teacher
/// (``HybridDistillation``); only the modules that took part get gradients.
/// Its checkpoint holds the modules in `modules.safetensors`.
public final class ModuleDistillationObjective: TrainingObjective {
  public let teacher: any Seq2SeqModel
  public var inputModel: any Seq2SeqModel { teacher }
  public let modules: ModuleSet
  public let settings: ModuleTrainingSettings
  let sampler: HybridSampler
  private(set) var distillation: HybridDistillation
  /// Steps each module took part in, by module id.
  public var counters: [String: Int] = [:]
  /// Running mean of the relative hidden-state error of each granularity (for progress only).
  private var hiddenErrors: [Int: Float] = [:]

  public static let modulesFileName = "modules.safetensors"

  public init(teacher: any Seq2SeqModel, settings: ModuleTrainingSettings) {
    teacher.freeze()
    self.teacher = teacher
    self.settings = settings
    modules = ModuleSet(
      teacher: teacher, granularities: settings.granularities, initialisation: settings.initialisation, seed: settings.seed)
    sampler = HybridSampler(
      sampling: settings.sampling, granularities: Array(Set(modules.spans.map(\.granularity))).sorted(),
      depths: [.encoder: teacher.encoder.depth, .decoder: teacher.decoder.depth], seed: settings.seed)
    distillation = HybridDistillation(
      teacher: teacher, modules: modules, weights: settings.weights, temperature: settings.temperature)
  }

  public var kind: String { "modules" }
  public var trainable: any ParameterContainer { modules }

  /// The steps module `span` took part in so far.
  public func steps(of span: ModuleSpan) -> Int { counters[span.id] ?? 0 }

  public func join(_ communicator: any Communicator) {
    distillation.normalizers = ShardNormalizers(communicator)
  }

  public func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss {
    distillation.normalizers.start(batch)
    if step <= settings.localSteps {
      let loss = distillation.localLoss(batch, backward: true)
      for span in modules.spans { counters[span.id, default: 0] += 1 }
      let mean = loss.hiddenByModule.values.reduce(0, +) / Float(max(loss.hiddenByModule.count, 1))
      return ObjectiveLoss(total: loss.total, metrics: [TrainingMetric("local hidden", mean)], isBackpropagated: true)
    }
    let probability = settings.replaceProbability(at: step)
    let plans: [AssemblyPlan], granularity: Int?
    if settings.sampling == .every {
      (plans, granularity) = (sampler.plans(step: step, probability: probability), nil)
    } else {
      let drawn = sampler.plan(step: step, probability: probability)
      (plans, granularity) = ([drawn.plan], drawn.granularity)
    }
    let loss = distillation.loss(batch, plans: plans, backward: true)
    for (span, error) in loss.hiddenByModule {
      hiddenErrors[span.granularity] = hiddenErrors[span.granularity].map { 0.9 * $0 + 0.1 * error } ?? error
    }
    for span in plans.flatMap(\.modules) { counters[span.id, default: 0] += 1 }
    var metrics = [TrainingMetric("p", probability)]
    if let granularity { metrics.append(TrainingMetric("g", Float(granularity))) }
    metrics += hiddenErrors.sorted { $0.key < $1.key }.map { TrainingMetric("hidden g\($0.key)", $0.value) }
    return ObjectiveLoss(total: loss.total, metrics: metrics, isBackpropagated: true)
  }

  public func validationLoss(_ batches: [Seq2SeqBatch]) -> Float? { nil }

  public func writeCheckpoint(into folder: URL) throws {
    try SafeTensorsFile(tensors: modules.stateDictionary()).write(to: folder.appendingPathComponent(Self.modulesFileName))
  }

  public func restoreCheckpoint(from folder: URL) throws {
    let url = folder.appendingPathComponent(Self.modulesFileName)
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelFolderError.missingFile(url.path) }
    try modules.loadStateDictionary(SafeTensorsFile.readWeights(from: url).tensors, source: url.path)
  }
}

extension ModuleTrainingSettings {
  /// The loop's share of these settings (module training does not validate in the loop; the probe does).
  public var loopSettings: TrainingLoopSettings {
    TrainingLoopSettings(
      steps: steps, learningRate: learningRate, schedule: learningRateSchedule, weightDecay: weightDecay, clipNorm: clipNorm,
      validateEvery: nil, checkpointEvery: checkpointEvery)
  }
}
