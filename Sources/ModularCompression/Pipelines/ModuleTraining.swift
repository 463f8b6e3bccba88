import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// What a module training run is asked to do.
public struct ModuleTrainingParameters {
  public var teacherFolder: URL
  /// Created if missing; the modules of the run are added to it.
  public var registryFolder: URL
  public var recipe: ModulesRecipe
  public var start: TrainingStart
  /// Stored in each module's provenance.
  public var recipePath: String?
  public var command: String?
  public var communicator: any Communicator

  public init(
    teacherFolder: URL, registryFolder: URL, recipe: ModulesRecipe = ModulesRecipe(), start: TrainingStart = .fresh,
    recipePath: String? = nil, command: String? = nil,
    communicator: any Communicator = SingleProcessCommunicator()
  ) {
    self.teacherFolder = teacherFolder
    self.registryFolder = registryFolder
    self.recipe = recipe
    self.start = start
    self.recipePath = recipePath
    self.command = command
    self.communicator = communicator
  }
}

/// What a module run reports as it goes.
public enum ModuleTrainingEvent {
  /// Before the first step: the teacher, the modules, notes on spans no module covers, data size, resumed step.
  case started(teacher: any Seq2SeqModel, modules: [ModuleSpan], notes: [String], trainExamples: Int, resumedAt: Int?)
  case step(TrainingProgress)
  /// The modules are in the registry.
  case registered(count: Int)
  /// The probe scored `done` of `total` models (the teacher first).
  case probing(done: Int, total: Int)
  /// The probe is done: the teacher's baseline, the modules probed and the number of examples.
  case probed(teacher: ModuleValidation?, modules: Int, examples: Int)
}

/// Module training: every module of the recipe against a frozen teacher in
/// one run, then registered in the registry and probed. The run checkpoints
/// into `REGISTRY/training-checkpoint/`, which is kept until the probe is done,
/// so a run killed at any point — the probe included — finishes with `.resume`.
/// Its cost (steps, tokens, seconds) goes into the registry's
/// `training-cost.json` (``ModuleTrainingCost``) for the comparison's ledger.
public enum ModuleTraining {
  public static let checkpointFolderName = "training-checkpoint"
  /// The single-file checkpoint of older Tessera versions, which is not resumed.
  static let formerCheckpointFileName = "training-checkpoint.safetensors"

  /// Trains, registers and probes; returns the registry. A fresh run is
  /// refused over an unfinished one and over modules of the same spans already
  /// in the registry (`.restart` replaces them; `.resume` continues the run).
  ///
  /// Under mpirun every process trains and only the first registers, probes
  /// and returns the registry (the others return nil).
  @discardableResult
  public static func run(
    _ parameters: ModuleTrainingParameters, events: (ModuleTrainingEvent) throws -> Void = { _ in }
  ) throws -> ModuleRegistry? {
    let recipe = parameters.recipe, settings = recipe.modules
    let checkpoint = parameters.registryFolder.appendingPathComponent(checkpointFolderName)
    let former = parameters.registryFolder.appendingPathComponent(formerCheckpointFileName)
    let communicator = parameters.communicator
    // The first process alone checks the registry and writes to it; under mpirun the others train beside it.
    let resume = try communicator.leaderDecides {
      try OutputFolder.claim(
        parameters.registryFolder, as: .registry, force: parameters.start == .restart, reading: [parameters.teacherFolder])
      if FileManager.default.fileExists(atPath: former.path) {
        guard parameters.start == .restart else {
          throw TrainingStartError(
            kind: .earlierRun, path: former.path,
            reason: "a checkpoint of an older Tessera, which cannot be resumed; start over (it is then removed)")
        }
        try FileManager.default.removeItem(at: former)
      }
      return try TrainingOutput.prepare(checkpoint, start: parameters.start, what: "module training")
    }
    let teacher = try ModelLoading.load(from: parameters.teacherFolder)
    let tokenizer = try loadTokenizer(from: parameters.teacherFolder, fitting: teacher)
    if let problem = settings.granularityProblem(encoderLayers: teacher.encoder.depth, decoderLayers: teacher.decoder.depth) {
      throw RecipeError(file: parameters.recipePath ?? "modules settings", reason: "field 'modules.\(problem.key)': \(problem.message)")
    }
    let fingerprint = try TeacherFingerprint.of(modelFolder: parameters.teacherFolder)
    let registry = try communicator.isLeader ? ModuleRegistry.openOrCreate(
      at: parameters.registryFolder, teacherFingerprint: fingerprint,
      teacher: TeacherSummary(
        model: teacher, path: relativePath(of: parameters.teacherFolder, from: parameters.registryFolder))) : nil
    let train = TokenizedExamples(try recipe.data.examples(.train), tokenizer: tokenizer)
    let schedule = try TokenBudgetSchedule(
      train, tokenBudget: recipe.data.batchTokens, seed: recipe.data.seed, tokens: teacher.specialTokens)
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let replaced = objective.modules.spans.map(\.id).filter { registry?.entry($0) != nil }
    if !resume, parameters.start == .fresh, !replaced.isEmpty {
      throw TrainingStartError(
        kind: .earlierRun, path: parameters.registryFolder.path,
        reason: "already holds \(replaced.count) of the modules this run would replace (\(replaced.prefix(3).joined(separator: ", "))"
          + "\(replaced.count > 3 ? ", …" : "")); train other granularities into it, or use another registry")
    }
    let loop = TrainingLoop(
      objective: objective, settings: settings.loopSettings, schedule: schedule, checkpointFolder: checkpoint,
      fingerprint: [settings.fingerprint, fingerprint, stableJSONText(recipe.data)].joined(separator: "|"),
      communicator: parameters.communicator)
    if resume { try loop.resume() }
    try events(.started(
      teacher: teacher, modules: objective.modules.spans, notes: objective.modules.notes, trainExamples: train.count,
      resumedAt: resume ? loop.state.step : nil))
    try loop.run { try events(.step($0)) }
    guard let registry else { return nil }

    for span in objective.modules.spans {
      try registry.add(
        block: objective.modules.blocks[span]!, span: span,
        provenance: ModuleProvenance(
          steps: objective.steps(of: span), seed: settings.seed, recipe: parameters.recipePath,
          command: parameters.command, initialisation: settings.initialisation.provenanceName))
    }
    try events(.registered(count: objective.modules.spans.count))
    if settings.probeExamples > 0 {
      try probe(
        registry: registry, teacher: teacher, tokenizer: tokenizer, teacherFingerprint: fingerprint, data: recipe.data,
        count: settings.probeExamples, events: events)
    }
    // Recorded before the checkpoint goes, so a run killed in between records it on resuming (once: equal runs are not repeated).
    try ModuleTrainingCost.append(
      ModuleTrainingCost.Run(
        granularities: settings.granularities, steps: loop.state.step, tokens: loop.state.tokens, seconds: loop.state.seconds,
        teacherFingerprint: fingerprint, command: parameters.command),
      toRegistry: registry.folder)
    // Only now is the run complete: until here a resume redoes what is left.
    try FileManager.default.removeItem(at: checkpoint)
    AtomicFolder.removeLeftovers(of: checkpoint)
    return registry
  }

  /// Runs ``ModuleProbe`` on the first `count` validation examples of `data`;
  /// `teacher` is the registry's (its fingerprint already checked).
  public static func probe(
    registry: ModuleRegistry, teacher: any Seq2SeqModel, tokenizer: any TextTokenizer, teacherFingerprint: String,
    data: DatasetSpec, count: Int, events: (ModuleTrainingEvent) throws -> Void = { _ in }
  ) throws {
    let examples = Array(try data.examples(.valid).prefix(count))
    try ModuleProbe.run(
      registry: registry, teacher: teacher, teacherFingerprint: teacherFingerprint, tokenizer: tokenizer, examples: examples
    ) { done, total in try events(.probing(done: done, total: total)) }
    try events(.probed(teacher: registry.manifest.teacherValidation, modules: registry.entries.count, examples: examples.count))
  }

  /// `folder` relative to `base` when it lies beside or inside it, else absolute; registries store it this way.
  public static func relativePath(of folder: URL, from base: URL) -> String {
    let target = folder.standardizedFileURL.path, root = base.standardizedFileURL.deletingLastPathComponent().path
    if target.hasPrefix(root + "/") { return "../" + target.dropFirst(root.count + 1) }
    return target
  }
}
