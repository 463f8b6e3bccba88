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
      p = min(1, start + (1 − start)·t/ramp), one granularity a step (per-step) or a
      random cover mixing granularities (mixed). The loss is task cross-entropy +
      T²·KL to the teacher's logits + hidden-state MSE at span boundaries (relative to
      the teacher's magnitude) + MSE of the module's attention to the teacher's at the
      span's last layer; the teacher is frozen and runs once a batch.

      The run checkpoints into REGISTRY/training-checkpoint.safetensors (one atomic
      file); --resume continues it with exactly the losses of an uninterrupted run.
      At the end every module is written to the registry and probed: its validation
      loss and metric with only it swapped into the teacher go into the manifest.
      """,
    options: DatasetOptions.options + [
      .value("--teacher", "DIR", "Teacher model folder (required)"),
      .value("--registry", "DIR", "Registry folder, created if missing (required)"),
      .value("--recipe", "FILE", "Module recipe (modules, data); flags override it"),
      .flag("--resume", "Continue from the registry's training checkpoint"),
      .value("--granularities", "LIST", "Granularities to train", default: "2,3,4,6"),
      .value("--sampling", "MODE", "per-step or mixed", default: "per-step"),
      .value("--init", "FROM", "first, middle, last (layer of the span to copy) or random", default: "first"),
      .value("--steps", "N", "Training steps"),
      .value("--lr", "X", "Peak learning rate"),
      .value("--warmup", "N", "Warm-up steps"),
      .value("--replace-start", "P", "Replacement probability at step 1"),
      .value("--replace-ramp", "F", "Fraction of the steps after which every span is replaced"),
      .value("--temperature", "T", "Distillation temperature"),
      .value("--weights", "LIST", "Loss weights, e.g. cross_entropy=1,logits=1,hidden=1,attention=1"),
      .value("--checkpoint-every", "N", "Steps between checkpoints"),
      .value("--seed", "N", "Seed of initialisation and hybrid sampling"),
      .value("--probe-examples", "N", "Validation examples generated per module by the probe (0: skip the probe)"),
    ]
  ) { arguments in
    var recipe = try arguments.string("--recipe").map { try ModulesRecipe.load(from: URL(fileURLWithPath: $0)) } ?? ModulesRecipe()
    try DatasetOptions.apply(arguments, to: &recipe.data)
    try applyFlags(arguments, to: &recipe.modules)
    try trainModules(
      teacherFolder: URL(fileURLWithPath: try arguments.require("--teacher")),
      registryFolder: URL(fileURLWithPath: try arguments.require("--registry")), recipe: recipe,
      resume: arguments.has("--resume"), recipePath: arguments.string("--recipe"))
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
      .value("--probe-examples", "N", "Validation examples to score", default: "200"),
    ]
  ) { arguments in
    var data = DatasetSpec()
    try DatasetOptions.apply(arguments, to: &data)
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: try arguments.require("--registry")))
    guard let teacherFolder = arguments.string("--teacher").map({ URL(fileURLWithPath: $0) }) ?? registry.teacherFolder else {
      throw UsageError("the registry names no teacher folder; give --teacher DIR")
    }
    let count = try arguments.int("--probe-examples") ?? 200
    guard count > 0 else { throw UsageError("--probe-examples must be positive") }
    let fingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    try registry.checkTeacher(fingerprint)
    try probeModules(
      registry: registry, teacher: try ModelLoading.load(from: teacherFolder), tokenizer: try loadTokenizer(from: teacherFolder),
      teacherFingerprint: fingerprint, data: data, count: count)
  }

  /// The unfinished run's checkpoint inside the registry folder.
  static let checkpointFileName = "training-checkpoint.safetensors"

  /// Trains, registers and probes the modules of `recipe`; shared with `tessera demo`.
  static func trainModules(
    teacherFolder: URL, registryFolder: URL, recipe: ModulesRecipe, resume: Bool, recipePath: String?
  ) throws {
    let teacher = try ModelLoading.load(from: teacherFolder)
    let tokenizer = try loadTokenizer(from: teacherFolder)
    let fingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    let registry = try ModuleRegistry.openOrCreate(
      at: registryFolder, teacherFingerprint: fingerprint,
      teacher: TeacherSummary(model: teacher, path: relativePath(of: teacherFolder, from: registryFolder)))
    let checkpoint = registryFolder.appendingPathComponent(checkpointFileName)
    let train = TokenizedExamples(try recipe.data.examples(.train), tokenizer: tokenizer)
    let schedule = try TokenBudgetSchedule(
      train, tokenBudget: recipe.data.batchTokens, seed: recipe.data.seed, tokens: teacher.specialTokens)
    let dataContext = stableJSONText(recipe.data)
    let trainer = ModuleTrainer(
      teacher: teacher, settings: recipe.modules, schedule: schedule, checkpointFile: checkpoint,
      context: fingerprint + "|" + dataContext)
    if resume {
      try trainer.resume()
      print("resumed at step \(trainer.state.step) from \(checkpoint.path)")
    } else if FileManager.default.fileExists(atPath: checkpoint.path) {
      throw UsageError("\(checkpoint.path) holds an unfinished run; pass --resume to continue it or delete the file")
    }
    let settings = recipe.modules
    print("""
      teacher: \(teacher.modelType), \(teacher.encoder.depth)+\(teacher.decoder.depth) layers, d_model \(teacher.modelWidth) (\(teacherFolder.path))
      modules: \(trainer.modules.spans.count) (granularities \(settings.granularities.map(String.init).joined(separator: ","))), \
      \(settings.sampling.rawValue) sampling, init \(settings.initialisation.provenanceName), \(settings.steps) steps
      data: \(recipe.data.displayName), \(train.count) train examples, \(recipe.data.batchTokens) tokens a batch
      """)
    for note in trainer.modules.notes { print("note: \(note)") }
    let bar = ProgressBar(total: settings.steps, label: "modules")
    try trainer.run { progress in
      let perGranularity = progress.hiddenErrorByGranularity.sorted { $0.key < $1.key }
        .map { String(format: "g%d %.3f", $0.key, $0.value) }.joined(separator: " ")
      bar.update(progress.step, detail: String(
        format: "loss %.3f · p %.2f · hidden %@ · %.0f tok/s", progress.loss, progress.probability, perGranularity,
        progress.tokensPerSecond))
    }
    bar.finish()
    let command = (["tessera"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
    for span in trainer.modules.spans {
      try registry.add(
        block: trainer.modules.blocks[span]!, span: span,
        provenance: ModuleProvenance(
          steps: trainer.state.moduleSteps[span.id] ?? 0, seed: settings.seed, recipe: recipePath, command: command,
          initialisation: settings.initialisation.provenanceName))
    }
    try FileManager.default.removeItem(at: checkpoint)
    print("saved \(trainer.modules.spans.count) modules in \(registryFolder.path)")
    if settings.probeExamples > 0 {
      try probeModules(
        registry: registry, teacher: teacher, tokenizer: tokenizer, teacherFingerprint: fingerprint, data: recipe.data,
        count: settings.probeExamples)
    }
  }

  /// Runs ``ModuleProbe`` on the first `count` validation examples with a progress bar;
  /// `teacher` is the registry's (its fingerprint already checked).
  static func probeModules(
    registry: ModuleRegistry, teacher: any Seq2SeqModel, tokenizer: any TextTokenizer, teacherFingerprint fingerprint: String,
    data: DatasetSpec, count: Int
  ) throws {
    let examples = Array(try data.examples(.valid).prefix(count))
    let bar = ProgressBar(total: registry.entries.count + 1, label: "probe")
    try ModuleProbe.run(
      registry: registry, teacher: teacher, teacherFingerprint: fingerprint, tokenizer: tokenizer, examples: examples
    ) { done, _ in bar.update(done) }
    bar.finish()
    let baseline = registry.manifest.teacherValidation
    print(String(
      format: "probed %d modules on %d validation examples (teacher: loss %.3f, %@ %.3f)", registry.entries.count,
      examples.count, baseline?.loss ?? .nan, baseline?.metricName ?? "metric", baseline?.metric ?? .nan))
  }

  /// `folder` relative to `base` when it lies beside or inside it, else absolute; registries store it this way.
  static func relativePath(of folder: URL, from base: URL) -> String {
    let target = folder.standardizedFileURL.path, root = base.standardizedFileURL.deletingLastPathComponent().path
    if target.hasPrefix(root + "/") { return "../" + target.dropFirst(root.count + 1) }
    return target
  }

  private static func applyFlags(_ arguments: ParsedArguments, to settings: inout ModuleTrainingSettings) throws {
    if let list = arguments.list("--granularities") {
      settings.granularities = try list.map {
        guard let g = Int($0) else { throw UsageError("--granularities: '\($0)' is not a whole number") }
        return g
      }
    }
    if let mode = arguments.string("--sampling") {
      guard let sampling = HybridSampling(rawValue: mode) else { throw UsageError("--sampling must be per-step or mixed, got '\(mode)'") }
      settings.sampling = sampling
    }
    if let name = arguments.string("--init") {
      guard let initialisation = ModuleInitialisation(rawValue: name) else {
        throw UsageError("--init must be first, middle, last or random, got '\(name)'")
      }
      settings.initialisation = initialisation
    }
    if let v = try arguments.int("--steps") { settings.steps = v }
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
