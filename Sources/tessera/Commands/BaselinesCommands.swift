import Foundation
import TensorCore
import ModularCompression
import Seq2SeqModels

/// `tessera baselines train|sweep`: per-ratio students to rank modules against.
enum BaselinesCommands {
  static let train = Command(
    path: ["baselines", "train"],
    summary: "Train one per-ratio baseline student (scratch, sft, kd, pseudo-labels, theseus), or polish an assembly",
    discussion: """
      EXAMPLES:
        tessera baselines train --teacher Checkpoints/demo/teacher --method kd --ratio 2 \\
          --recipe Recipes/demo-baselines.json --out baselines/kd-2x
        tessera baselines train --teacher t --method sft --ratio 3 --strategy speed-first --task dates --out b/sft-3x
        tessera baselines train --teacher t --method kd --ratio 2 --task dates --out b/kd-2x --resume
        tessera baselines train --teacher t --method polish --from assembled/3x --steps 300 --task dates --out b/polish-3x

      The student keeps, per stack, the depths that layer dropping keeps at the
      ratio (size-first, or speed-first: the decoder is cut first):
        scratch        that shape from random weights, cross-entropy on the labels
        sft            evenly spaced teacher layers copied (first and last kept), cross-entropy
        kd             sft's start; CE + T²·KL to the teacher's logits + each student layer's
                       hidden-state MSE against the teacher layer ending the span it stands for
        pseudo-labels  sft's start, cross-entropy on the teacher's greedy outputs for the training
                       sources (made once, cached in OUT/pseudo-labels.tsv under the teacher's fingerprint)
        theseus        modules of one granularity (the smallest whose cover reaches the ratio),
                       trained with replacement into OUT/modules, then assembled at the ratio
        polish         not a rival: the assembled model --from DIR (tessera assemble, or
                       compare --save-models) trained further with kd's loss, each layer against
                       the teacher layer ending its span; its ratio is the assembly's (no --ratio),
                       and compare ranks it as its own kind of row, "polished"

      --out is a model folder (config.json, model.safetensors, tokenizer.json) and
      the run's checkpoint; baseline.json (method, ratio, depths, steps, tokens,
      seconds, teacher fingerprint) is written last, when the run is complete. A
      killed run continues with --resume exactly as an uninterrupted one; over an
      earlier run pass --resume or --force (start over). Training settings come
      from the recipe's training section (as in teacher recipes); flags override it.
      """,
    options: commonOptions(single: true)
  ) { arguments in
    var recipe = try recipe(from: arguments)
    recipe.baseline.method = try BaselineMethod(parsing: try arguments.require("--method"))
    let startModel = arguments.string("--from").map { URL(fileURLWithPath: $0) }
    if recipe.baseline.method == .polish {
      guard startModel != nil else { throw UsageError("--from DIR is required with --method polish: the assembled model to polish") }
      guard arguments.string("--ratio") == nil else {
        throw UsageError("--method polish takes its ratio from the assembly (--from); leave out --ratio")
      }
    } else {
      guard startModel == nil else { throw UsageError("--from is for --method polish only") }
      recipe.baseline.ratio = try ratio(try arguments.require("--ratio"), flag: "--ratio")
    }
    try checkSettings(recipe)
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let group = try ProcessGroup.announced()
    let display = group.isLeader ? BaselineRunDisplay(recipe: recipe, out: out) : nil
    _ = try TrainingStartFlags.explained {
      try BaselineTraining.run(
        BaselineTrainingParameters(
          teacherFolder: URL(fileURLWithPath: try arguments.require("--teacher")), recipe: recipe, output: out,
          start: try TrainingStartFlags.start(arguments), startModel: startModel, communicator: group)
      ) { display?.show($0) }
    }
  }

  static let sweep = Command(
    path: ["baselines", "sweep"],
    summary: "Train baseline students for several methods and ratios into one folder",
    discussion: """
      EXAMPLES:
        tessera baselines sweep --teacher Checkpoints/demo/teacher --methods sft,kd --ratios 2,3,6 \\
          --recipe Recipes/demo-baselines.json --out baselines
        tessera baselines sweep --teacher t --methods kd --ratios 2,3 --task dates --out baselines --resume

      Each method at each ratio is trained as `baselines train` would, into
      OUT/<method>-<ratio>x (kd-2x, sft-1.5x), all sharing one pseudo-label cache
      (OUT/pseudo-labels.tsv). With --resume finished members are skipped and an
      unfinished one continues. `tessera compare --baselines OUT` ranks them.
      """,
    options: commonOptions(single: false)
  ) { arguments in
    let recipe = try recipe(from: arguments)
    guard let methodNames = arguments.list("--methods") else { throw UsageError("--methods LIST is required") }
    guard let ratioTexts = arguments.list("--ratios") else { throw UsageError("--ratios LIST is required") }
    let methods = try methodNames.map { try BaselineMethod(parsing: $0) }
    let ratios = try ratioTexts.map { try ratio($0, flag: "--ratios") }
    try checkSettings(recipe)
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let group = try ProcessGroup.announced()
    let display = group.isLeader ? BaselineSweepDisplay(recipe: recipe, methods: methods, ratios: ratios, out: out) : nil
    _ = try TrainingStartFlags.explained {
      try BaselineSweep.run(
        BaselineSweepParameters(
          teacherFolder: URL(fileURLWithPath: try arguments.require("--teacher")), recipe: recipe, methods: methods,
          ratios: ratios, output: out, start: try TrainingStartFlags.start(arguments), communicator: group)
      ) { display?.show($0) }
    }
    if group.isLeader { print("saved \(out.path)") }
  }

  /// The options of both commands; `single` picks --method/--ratio or --methods/--ratios.
  static func commonOptions(single: Bool) -> [Option] {
    let choice: [Option] =
      single
      ? [
        .value("--method", "NAME", "scratch, sft, kd, pseudo-labels, theseus or polish (required)"),
        .value("--ratio", "R", "Layer-parameter compression ratio, ≥ 1 (required, except for polish)"),
        .value("--from", "DIR", "polish: the assembled model folder to train further (required for polish)"),
      ]
      : [
        .value("--methods", "LIST", "Methods, e.g. sft,kd,pseudo-labels (required)"),
        .value("--ratios", "LIST", "Ratios, e.g. 1.5,2,3,6 (required)"),
      ]
    return [.value("--teacher", "DIR", "Teacher model folder (required)")] + choice + [
      .value("--strategy", "NAME", "size-first or speed-first (default: size-first)"),
      .value("--out", "DIR", single ? "Student model folder and checkpoint (required)" : "Sweep folder (required)"),
      .value("--recipe", "FILE", "Baselines recipe (baseline, training, data); flags override it"),
    ] + DatasetOptions.options + TrainingStartFlags.options + [
      .value("--steps", "N", "Training steps (default: a default modules run's, \(BaselineRecipe().training.steps))"),
      .value("--lr", "X", "Peak learning rate"),
      .value("--warmup", "N", "Warm-up steps"),
      .value("--temperature", "T", "kd and theseus distillation temperature (default: 2)"),
      .value("--label-examples", "N", "pseudo-labels: label only the first N training sources (default: all)"),
      .value("--checkpoint-every", "N", "Steps between checkpoints"),
      .value("--seed", "N", "Seed of initialisation, shuffling and dropout"),
    ]
  }

  /// The recipe with the data and training flags applied.
  static func recipe(from arguments: ParsedArguments) throws -> BaselineRecipe {
    var recipe = try arguments.string("--recipe").map { try BaselineRecipe.load(from: URL(fileURLWithPath: $0)) } ?? BaselineRecipe()
    try DatasetOptions.apply(arguments, to: &recipe.data)
    if let name = arguments.string("--strategy") {
      guard let strategy = AssemblyStrategy(rawValue: name), strategy != .pareto else {
        throw UsageError("--strategy must be size-first or speed-first, got '\(name)'")
      }
      recipe.baseline.strategy = strategy
    }
    if let v = try arguments.positiveInt("--steps") { recipe.training.steps = v }
    if let v = try arguments.double("--lr") { recipe.training.learningRate = Float(v) }
    if let v = try arguments.int("--warmup") { recipe.training.warmupSteps = v }
    if let v = try arguments.double("--temperature") { recipe.baseline.temperature = Float(v) }
    if let v = try arguments.positiveInt("--label-examples") { recipe.baseline.labelExamples = v }
    if let v = try arguments.positiveInt("--checkpoint-every") { recipe.training.checkpointEvery = v }
    if let v = try arguments.int("--seed") { recipe.training.seed = UInt64(max(0, v)) }
    return recipe
  }

  /// A ratio argument: a finite number ≥ 1.
  static func ratio(_ text: String, flag: String) throws -> Double {
    guard let value = Double(text), value.isFinite else { throw UsageError("\(flag): '\(text)' is not a number") }
    guard value >= 1 else { throw UsageError("\(flag) must be at least 1 (a compression ratio), got \(text)") }
    return value
  }

  /// The settings the flags made, checked before any work, naming the flag's field.
  static func checkSettings(_ recipe: BaselineRecipe) throws {
    if let problem = recipe.baseline.validationProblem() { throw UsageError("baseline \(problem.key): \(problem.message)") }
    if let problem = recipe.training.validationProblem() { throw UsageError("training \(problem.key): \(problem.message)") }
  }
}

/// Prints a sweep's events: a line per member, then its run's progress.
final class BaselineSweepDisplay {
  let recipe: BaselineRecipe
  let methods: [BaselineMethod]
  let ratios: [Double]
  let out: URL
  private var member: BaselineRunDisplay?

  init(recipe: BaselineRecipe, methods: [BaselineMethod], ratios: [Double], out: URL) {
    (self.recipe, self.methods, self.ratios, self.out) = (recipe, methods, ratios, out)
  }

  func show(_ event: BaselineSweepEvent) {
    switch event {
    case .member(let name, let index, let total):
      print("[\(index + 1)/\(total)] \(name)")
      var settings = recipe
      settings.baseline.method = methods[index / ratios.count]
      settings.baseline.ratio = ratios[index % ratios.count]
      member = BaselineRunDisplay(recipe: settings, out: out.appendingPathComponent(name))
    case .skipped(let name, _): print("\(name): finished earlier, kept")
    case .event(_, let event): member?.show(event)
    }
  }
}

/// Prints a baseline run's events with a progress bar.
final class BaselineRunDisplay {
  let recipe: BaselineRecipe
  let out: URL
  private var bar: ProgressBar
  private var labelBar: ProgressBar?
  private var lastValidation = ""

  init(recipe: BaselineRecipe, out: URL) {
    self.recipe = recipe
    self.out = out
    bar = ProgressBar(total: recipe.training.steps, label: recipe.baseline.method.rawValue)
  }

  func show(_ event: BaselineTrainingEvent) {
    switch event {
    case .started(let model, let layerMap, let trainCount, let resumedAt):
      if let resumedAt { print("resumed at step \(resumedAt) from \(out.path)") }
      let settings = recipe.baseline
      if settings.method == .polish {
        print("polish: the assembled model of \(model.encoder.depth)+\(model.decoder.depth) layers, each against teacher layers \(layerMap.map { "encoder \($0.encoder), decoder \($0.decoder)" } ?? "?")")
      } else if let layerMap {
        print("""
          student: \(settings.method.rawValue) at \(String(format: "%g", settings.ratio))× (\(settings.strategy.rawValue)), \
          \(model.encoder.depth)+\(model.decoder.depth) layers, \(model.parameterCount.formatted()) parameters
          \(settings.method == .scratch ? "random weights" : "kept layers: encoder \(layerMap.encoder), decoder \(layerMap.decoder)")
          """)
      } else {
        print("theseus: modules of one granularity against the \(model.encoder.depth)+\(model.decoder.depth)-layer teacher")
      }
      print("data: \(recipe.data.displayName), \(trainCount) train examples, \(recipe.data.batchTokens) tokens a batch")
    case .labelling(let done, let total):
      if labelBar == nil { labelBar = ProgressBar(total: total, label: "labelling") }
      labelBar?.update(done)
    case .labelled(let count, let cached, let seconds):
      labelBar?.finish()
      print(cached ? "pseudo-labels: \(count) from the cache" : String(format: "pseudo-labels: %d made in %.1f s", count, seconds))
      if let cap = recipe.baseline.labelExamples {
        print("pseudo-labels: only the first \(cap) training sources are labelled and trained on (--label-examples)")
      }
    case .step(let progress):
      if let loss = progress.validationLoss { lastValidation = String(format: " · valid %.3f", loss) }
      bar.update(progress.step, detail: String(format: "loss %.3f%@ · %.0f tok/s", progress.loss, lastValidation, progress.tokensPerSecond))
    case .modules(let event):
      if case .registered(let count) = event { print("theseus: \(count) modules registered") }
    case .finished(let record):
      bar.finish(detail: lastValidation)
      print("""
        \(record.method.rawValue): \(record.encoderLayers)+\(record.decoderLayers) layers, layer-parameter ratio \
        \(String(format: "%.2f", record.layerParameterRatio))×, \(record.steps) steps, \(record.tokens) tokens, \
        \(String(format: "%.1f", record.seconds)) s
        saved \(out.path)
        """)
    }
  }
}
