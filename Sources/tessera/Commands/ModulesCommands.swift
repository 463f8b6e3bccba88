import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// `tessera modules train|probe`: one training run for every module, and the quality probe.
enum ModulesCommands {
  static let train = Command(
    path: ["modules", "train"],
    summary: "Train modules of every granularity against a frozen teacher into a registry",
    discussion: """
      EXAMPLES:
        tessera modules train --teacher teachers/dates --task dates --registry registries/dates
        tessera modules train --recipe Recipes/demo-modules.json --teacher Checkpoints/demo/teacher --registry reg
        tessera modules train --teacher t --task dates --registry reg --sampling mixed --granularities 2,4
        tessera modules train --teacher t --task dates --registry reg --resume

      A module of granularity g replaces the aligned teacher layers [j·g, (j+1)·g) of
      the encoder or decoder; it has the shape of one teacher layer and starts as a
      copy of one layer of its span (--init) or random weights. Each step runs a
      hybrid model: spans are replaced by their modules with probability
      p = min(1, start + (1 − start)·t/ramp), one granularity a step (per-step), a
      random cover mixing granularities (mixed), or one hybrid of every granularity
      each step beside one teacher pass (every). The loss is task cross-entropy +
      T²·KL to the teacher's logits + hidden-state MSE at span boundaries (relative to
      the teacher's magnitude) + MSE of the module's attention to the teacher's at the
      span's last layer; the teacher is frozen and runs once a batch. With
      --local-fraction F the first F·steps steps instead train every module at once,
      each alone on the teacher's hidden state at its span's start against the
      teacher's state at its end (relative MSE).

      The run checkpoints into REGISTRY/training-checkpoint/ (replaced whole at
      every checkpoint); --resume continues it with exactly the losses of an
      uninterrupted run. At the end every module is written to the registry and
      probed: its validation loss and metric with only it swapped into the
      teacher go into the manifest. The checkpoint is removed only after the
      probe, so --resume also finishes a run killed while probing. Over an
      unfinished run pass --resume or --force (start over); replacing modules
      of the same spans already in the registry needs --force.

      Flags override the recipe; what neither sets takes the defaults shown.
      """,
    options: DatasetOptions.options + [
      .value("--teacher", "DIR", "Teacher model folder (required)"),
      .value("--registry", "DIR", "Registry folder, created if missing (required)"),
      .value("--recipe", "FILE", "Module recipe (modules, data); flags override it"),
    ] + TrainingStartFlags.options + [
      .value("--granularities", "LIST", "Granularities to train (default: \(defaults.granularities.map(String.init).joined(separator: ",")))"),
      .value("--sampling", "MODE", "per-step, mixed or every (default: \(defaults.sampling.rawValue))"),
      .value("--init", "FROM", "first, middle, last (layer of the span to copy) or random (default: \(defaults.initialisation.rawValue))"),
      .value("--steps", "N", "Training steps (default: \(defaults.steps))"),
      .value("--local-fraction", "F", "Share of the steps, first, that train every module alone on the teacher's hidden states (default: \(defaults.localFraction))"),
      .value("--lr", "X", "Peak learning rate"),
      .value("--warmup", "N", "Warm-up steps"),
      .value("--replace-start", "P", "Replacement probability at step 1 (default: \(defaults.replaceStart))"),
      .value("--replace-ramp", "F", "Fraction of the steps after which every span is replaced"),
      .value("--temperature", "T", "Distillation temperature"),
      .value("--weights", "LIST", "Loss weights, e.g. cross_entropy=1,logits=1,hidden=1,attention=1"),
      .value("--checkpoint-every", "N", "Steps between checkpoints"),
      .value("--seed", "N", "Seed of initialisation and hybrid sampling"),
      .value("--probe-examples", "N", "Validation examples scored per module by the probe (0: skip the probe; default: \(defaults.probeExamples))"),
    ]
  ) { arguments in
    var recipe = try arguments.string("--recipe").map { try ModulesRecipe.load(from: URL(fileURLWithPath: $0)) } ?? ModulesRecipe()
    try DatasetOptions.apply(arguments, to: &recipe.data)
    try applyFlags(arguments, to: &recipe.modules)
    try trainModules(
      teacherFolder: URL(fileURLWithPath: try arguments.require("--teacher")),
      registryFolder: URL(fileURLWithPath: try arguments.require("--registry")), recipe: recipe,
      start: try TrainingStartFlags.start(arguments), recipePath: arguments.string("--recipe"))
  }

  static let probe = Command(
    path: ["modules", "probe"],
    summary: "Measure each module's quality alone in the teacher and store it in the manifest",
    discussion: """
      EXAMPLE:
        tessera modules probe --registry registries/dates --task dates

      For the teacher and then each module (swapped into the teacher alone): the
      teacher-forced validation loss and exact match of greedy outputs on the
      validation split. modules train runs this at its end; run it again after
      adding modules or to probe on other data.
      """,
    options: DatasetOptions.options + [
      .value("--registry", "DIR", "Registry folder (required)"),
      .value("--teacher", "DIR", "Teacher model folder (default: the one the registry names)"),
      .value("--probe-examples", "N", "Validation examples to score (default: \(defaults.probeExamples))"),
    ]
  ) { arguments in
    var data = DatasetSpec()
    try DatasetOptions.apply(arguments, to: &data)
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: try arguments.require("--registry")))
    guard let teacherFolder = arguments.string("--teacher").map({ URL(fileURLWithPath: $0) }) ?? registry.teacherFolder else {
      throw UsageError("the registry names no teacher folder; give --teacher DIR")
    }
    let count = try arguments.int("--probe-examples") ?? defaults.probeExamples
    guard count > 0 else { throw UsageError("--probe-examples must be positive") }
    let fingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    try registry.checkTeacher(fingerprint)
    var bar: ProgressBar?
    try ModuleTraining.probe(
      registry: registry, teacher: try ModelLoading.load(from: teacherFolder), tokenizer: try loadTokenizer(from: teacherFolder),
      teacherFingerprint: fingerprint, data: data, count: count
    ) { showProbe($0, bar: &bar) }
  }

  /// The library's defaults, which apply to what neither a flag nor the recipe sets.
  private static let defaults = ModuleTrainingSettings()

  /// Trains, registers and probes the modules of `recipe` with progress bars.
  static func trainModules(
    teacherFolder: URL, registryFolder: URL, recipe: ModulesRecipe, start: TrainingStart, recipePath: String?
  ) throws {
    let group = try ProcessGroup.announced()
    let parameters = ModuleTrainingParameters(
      teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: recipe, start: start, recipePath: recipePath,
      command: commandLine, communicator: group)
    let display = group.isLeader ? ModuleRunDisplay(parameters) : nil
    try TrainingStartFlags.explained { try ModuleTraining.run(parameters) { display?.show($0) } }
  }

  /// The command line as typed, for provenance.
  static var commandLine: String { (["tessera"] + CommandLine.arguments.dropFirst()).joined(separator: " ") }

  /// Draws the probe's progress bar and prints its result.
  static func showProbe(_ event: ModuleTrainingEvent, bar: inout ProgressBar?) {
    switch event {
    case .probing(let done, let total):
      if bar == nil { bar = ProgressBar(total: total, label: "probe") }
      bar?.update(done)
    case .probed(let baseline, let modules, let examples):
      bar?.finish()
      print(String(
        format: "probed %d modules on %d validation examples (teacher: loss %.3f, %@ %.3f)", modules, examples,
        baseline?.loss ?? .nan, baseline?.metricName ?? "metric", baseline?.metric ?? .nan))
    default: break
    }
  }

  private static func applyFlags(_ arguments: ParsedArguments, to settings: inout ModuleTrainingSettings) throws {
    if let list = arguments.list("--granularities") {
      settings.granularities = try list.map {
        guard let g = Int($0) else { throw UsageError("--granularities: '\($0)' is not a whole number") }
        return g
      }
    }
    if let mode = arguments.string("--sampling") {
      guard let sampling = HybridSampling(rawValue: mode) else { throw UsageError("--sampling must be per-step, mixed or every, got '\(mode)'") }
      settings.sampling = sampling
    }
    if let name = arguments.string("--init") {
      guard let initialisation = ModuleInitialisation(rawValue: name) else {
        throw UsageError("--init must be first, middle, last or random, got '\(name)'")
      }
      settings.initialisation = initialisation
    }
    if let v = try arguments.int("--steps") { settings.steps = v }
    if let v = try arguments.double("--local-fraction") { settings.localFraction = Float(v) }
    if let v = try arguments.double("--lr") { settings.learningRate = Float(v) }
    if let v = try arguments.int("--warmup") { settings.warmupSteps = v }
    if let v = try arguments.double("--replace-start") { settings.replaceStart = Float(v) }
    if let v = try arguments.double("--replace-ramp") { settings.replaceRamp = Float(v) }
    if let v = try arguments.double("--temperature") { settings.temperature = Float(v) }
    if let v = try arguments.int("--checkpoint-every") { settings.checkpointEvery = v }
    if let v = try arguments.int("--seed") { settings.seed = UInt64(max(0, v)) }
    if let v = try arguments.int("--probe-examples") { settings.probeExamples = v }
    if let list = arguments.list("--weights") {
      for item in list {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Float(parts[1]), value >= 0 else {
          throw UsageError("--weights: '\(item)' is not NAME=VALUE with a non-negative value")
        }
        switch parts[0] {
        case "cross_entropy", "ce": settings.weights.crossEntropy = value
        case "logits", "kl": settings.weights.logits = value
        case "hidden": settings.weights.hidden = value
        case "attention": settings.weights.attention = value
        default: throw UsageError("--weights: unknown loss '\(parts[0])'; expected cross_entropy, logits, hidden, attention")
        }
      }
    }
    if let problem = settings.validationProblem() { throw UsageError("modules \(problem.key): \(problem.message)") }
  }
}

/// Prints a module run's events with progress bars; shared with `tessera demo`.
final class ModuleRunDisplay {
  let parameters: ModuleTrainingParameters
  private let bar: ProgressBar
  private var probeBar: ProgressBar?

  init(_ parameters: ModuleTrainingParameters) {
    self.parameters = parameters
    bar = ProgressBar(total: parameters.recipe.modules.steps, label: "modules")
  }

  func show(_ event: ModuleTrainingEvent) {
    let settings = parameters.recipe.modules, data = parameters.recipe.data
    switch event {
    case .started(let teacher, let modules, let notes, let trainCount, let resumedAt):
      if let resumedAt {
        let checkpoint = parameters.registryFolder.appendingPathComponent(ModuleTraining.checkpointFolderName)
        print("resumed at step \(resumedAt) from \(checkpoint.path)")
      }
      print("""
        teacher: \(teacher.modelType), \(teacher.encoder.depth)+\(teacher.decoder.depth) layers, d_model \(teacher.modelWidth) \
        (\(parameters.teacherFolder.path))
        modules: \(modules.count) (granularities \(settings.granularities.map(String.init).joined(separator: ","))), \
        \(settings.sampling.rawValue) sampling, init \(settings.initialisation.provenanceName), \(settings.steps) steps
        data: \(data.displayName), \(trainCount) train examples, \(data.batchTokens) tokens a batch
        """)
      for note in notes { print("note: \(note)") }
    case .step(let progress):
      let details = progress.metrics.filter { $0.name != "g" }.map { String(format: "%@ %.3f", $0.name, $0.value) }
      bar.update(progress.step, detail: String(
        format: "loss %.3f · %@ · %.0f tok/s", progress.loss, details.joined(separator: " · "), progress.tokensPerSecond))
    case .registered(let count):
      bar.finish()
      print("saved \(count) modules in \(parameters.registryFolder.path)")
    case .probing, .probed:
      ModulesCommands.showProbe(event, bar: &probeBar)
    }
  }
}
