import Foundation
import Seq2SeqModels
import TensorCore
import Tokenizers

/// BERT-of-Theseus at one ratio: modules of one granularity covering both
/// stacks, trained with replacement by ``ModuleTraining`` (the same loop and
/// losses as a modules run, given the baseline's steps) into `OUT/modules`,
/// then assembled at the ratio into the model folder `OUT`.
///
/// The granularity is the smallest `g ≥ 2` whose all-module cover reaches the
/// ratio (2× → 2, 3× → 3, 6× → 6 on a 12+12 teacher; 1.5× → 2). When the
/// module run is done its trainer state is kept as `OUT/trainer_state.json`
/// (objective `baseline-theseus`), so a run killed during the assembly resumes
/// without training again, and the record's cost is the module run's.
enum TheseusBaseline {
  static let kind = BaselineTraining.objectivePrefix + BaselineMethod.theseus.rawValue

  static func run(
    _ parameters: BaselineTrainingParameters, teacher: any Seq2SeqModel, tokenizer: any TextTokenizer,
    teacherFingerprint: String, events: (BaselineTrainingEvent) throws -> Void
  ) throws -> BaselineRecord? {
    let settings = parameters.recipe.baseline, output = parameters.output
    let registryFolder = output.appendingPathComponent(BaselineTraining.theseusRegistryName)
    let stateURL = output.appendingPathComponent(TrainingCheckpoint.stateFileName)
    let moduleCheckpoint = registryFolder.appendingPathComponent(ModuleTraining.checkpointFolderName)
    let communicator = parameters.communicator
    try communicator.leaderRuns {
      try checkStart(parameters.start, output: output)
      if parameters.start == .restart, FileManager.default.fileExists(atPath: stateURL.path) {
        try FileManager.default.removeItem(at: stateURL)
      }
    }
    let costs = LayerCosts(teacher: teacher)
    let granularity = try self.granularity(costs: costs, ratio: settings.ratio)

    var state: TrainerState? =
      parameters.start == .resume ? (try? TrainingCheckpoint.readState(at: output)).flatMap { $0.objective == kind ? $0 : nil } : nil
    if state == nil {
      // Resume the module run when it has a checkpoint; otherwise its registry holds nothing to keep.
      let hasCheckpoint = TrainingCheckpoint.exists(at: moduleCheckpoint)
      let moduleStart: TrainingStart =
        parameters.start == .fresh ? .fresh : (parameters.start == .resume && hasCheckpoint ? .resume : .restart)
      try ModuleTraining.run(
        ModuleTrainingParameters(
          teacherFolder: parameters.teacherFolder, registryFolder: registryFolder,
          recipe: modulesRecipe(parameters.recipe, granularity: granularity), start: moduleStart,
          command: "tessera baselines train --method theseus", communicator: parameters.communicator)
      ) { event in
        switch event {
        case .started(let teacher, _, _, let trainExamples, let resumedAt):
          try events(.started(model: teacher, layerMap: nil, trainExamples: trainExamples, resumedAt: resumedAt))
        case .step(let progress): try events(.step(progress))
        case .registered:
          // The module checkpoint is removed after this event: keep its cost.
          var finished = try TrainingCheckpoint.readState(at: moduleCheckpoint)
          finished.objective = kind
          try AtomicFile.write(try TrainingCheckpoint.encodedState(finished), to: stateURL)
          state = finished
          try events(.modules(event))
        default: try events(.modules(event))
        }
      }
    }
    // Under mpirun the first process alone registered the modules; it assembles and writes the baseline.
    guard communicator.isLeader else { return nil }
    guard let state else { throw TrainingError("\(registryFolder.path): the theseus module run ended without registering its modules") }

    let registry = try ModuleRegistry.open(at: registryFolder)
    let context = try PlanningContext(
      teacher: teacher, teacherFolder: parameters.teacherFolder, registry: registry, latency: .estimate)
    let planned = try AssemblyRecipe(strategy: settings.strategy, ratio: settings.ratio)
      .resolve(with: context.planner, source: "theseus baseline at \(formatRatio(settings.ratio))")
    let model = try Assembler.assemble(teacher: teacher, plan: planned.plan, loadBlock: context.loadBlock)
    try ModelExport.writeModelFiles(model, into: output, tokenizer: tokenizer)
    let record = BaselineRecord(
      method: .theseus, requestedRatio: settings.ratio, layerParameterRatio: costs.cost(ofModel: model).layerParameterRatio,
      strategy: settings.strategy, encoderLayers: model.encoder.depth, decoderLayers: model.decoder.depth,
      encoderLayerMap: nil, decoderLayerMap: nil, steps: state.step, tokens: state.tokens, seconds: state.seconds,
      teacherFingerprint: teacherFingerprint, data: BaselineTraining.dataDescription(parameters.recipe.data))
    try record.write(to: output)
    try events(.finished(record))
    return record
  }

  /// A fresh run needs an empty output; a resume needs something to resume.
  static func checkStart(_ start: TrainingStart, output: URL) throws {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []).filter { !$0.hasPrefix(".") }
    if start == .fresh, !names.isEmpty {
      throw TrainingStartError(kind: .earlierRun, path: output.path, reason: "already holds a baseline run (trained or not)")
    }
    if start == .resume, names.isEmpty {
      throw TrainingStartError(kind: .nothingToResume, path: output.path, reason: "no baseline checkpoint to resume")
    }
  }

  /// The smallest granularity ≥ 2 whose all-module cover (each stack's
  /// aligned spans replaced by one-layer-sized modules, the remainder kept)
  /// reaches `ratio`.
  static func granularity(costs: LayerCosts, ratio: Double) throws -> Int {
    let deepest = max(costs.encoderDepth, costs.decoderDepth)
    var best = 1.0
    for g in 2...max(2, deepest) {
      var kept = 0
      for stack in [StackRole.encoder, .decoder] {
        let depth = costs.depth(stack), modules = depth / g
        kept += (0..<modules).reduce(0) { $0 + costs.parameters(ofLayer: $1 * g, in: stack) }
        kept += (modules * g..<depth).reduce(0) { $0 + costs.parameters(ofLayer: $1, in: stack) }
      }
      let reached = Double(costs.teacherLayerParameterTotal) / Double(max(kept, 1))
      if reached >= ratio * (1 - 1e-9) { return g }
      best = max(best, reached)
    }
    throw LayerDroppingError.unreachableRatio(requested: ratio, maximum: best)
  }

  /// The module recipe of one granularity: the baseline's optimiser settings,
  /// temperature, loss weights and data; per-step sampling and a replacement ramp
  /// (the paper's); no probe.
  static func modulesRecipe(_ recipe: BaselineRecipe, granularity: Int) -> ModulesRecipe {
    var modules = ModulesRecipe()
    modules.data = recipe.data
    var settings = ModuleTrainingSettings()
    let training = recipe.training
    settings.granularities = [granularity]
    settings.sampling = .perStep
    settings.replaceStart = 0.5  // Theseus' curriculum: half the spans at first, all after half the run
    settings.copyOptimizerFields(from: training)
    settings.checkpointEvery = training.checkpointEvery
    settings.seed = training.seed
    settings.probeExamples = 0
    settings.temperature = recipe.baseline.temperature
    settings.weights.crossEntropy = recipe.baseline.weights.crossEntropy
    settings.weights.logits = recipe.baseline.weights.logits
    settings.weights.hidden = recipe.baseline.weights.hidden
    modules.modules = settings
    return modules
  }
}
