import Foundation
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// `tessera teacher train|import`.
enum TeacherCommands {
  static let train = Command(
    path: ["teacher", "train"],
    summary: "Train a teacher T5/BART on a built-in task or a data file",
    discussion: """
      EXAMPLES:
        tessera teacher train --task arithmetic --out teachers/arith --steps 3000
        tessera teacher train --recipe Recipes/demo-teacher.json --out teachers/demo
        tessera teacher train --data pairs.jsonl --valid dev.jsonl --out teachers/mine --layers 6
        tessera teacher train --recipe Recipes/demo-teacher.json --out teachers/demo --resume

      The output folder is a Hugging Face style model folder (config.json,
      model.safetensors, tokenizer.json) plus optimizer.safetensors and
      trainer_state.json; it is replaced atomically at every checkpoint, so a
      killed run resumes with --resume from the last one and continues with
      exactly the losses an uninterrupted run would have had. Over an earlier
      run (finished or not) pass --resume or --force (start over); a folder
      holding other files is never replaced.
      """,
    options: DatasetOptions.options + [
      .value("--out", "DIR", "Model and checkpoint folder (required)"),
      .value("--recipe", "FILE", "Teacher recipe (model, training, data); flags override it"),
    ] + TrainingStartFlags.options + [
      .value("--tokenizer", "DIR", "Folder with a tokenizer.json (default: the byte tokenizer)"),
      .value("--model-type", "t5|bart", "Model family"),
      .value("--d-model", "N", "Model width"),
      .value("--d-ff", "N", "Feed-forward width"),
      .value("--heads", "N", "Attention heads"),
      .value("--layers", "N", "Encoder layers"),
      .value("--decoder-layers", "N", "Decoder layers"),
      .value("--steps", "N", "Training steps"),
      .value("--lr", "X", "Peak learning rate"),
      .value("--warmup", "N", "Warm-up steps"),
      .value("--label-smoothing", "X", "Label smoothing"),
      .value("--dropout", "X", "Dropout while training"),
      .value("--validate-every", "N", "Steps between validations"),
      .value("--checkpoint-every", "N", "Steps between checkpoints"),
      .value("--seed", "N", "Seed of initialisation, shuffling and dropout"),
    ]
  ) { arguments in
    var recipe = try arguments.string("--recipe").map { try TeacherRecipe.load(from: URL(fileURLWithPath: $0)) } ?? TeacherRecipe()
    try DatasetOptions.apply(arguments, to: &recipe.data)
    try applyModelFlags(arguments, to: &recipe)
    try applyTrainingFlags(arguments, to: &recipe.training)
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let tokenizer: any TextTokenizer = try arguments.string("--tokenizer").map { try loadTokenizer(from: URL(fileURLWithPath: $0)) } ?? ByteTokenizer()
    try trainTeacher(recipe: recipe, out: out, tokenizer: tokenizer, start: try TrainingStartFlags.start(arguments))
  }

  /// Trains (or resumes) the teacher of `recipe` into `out` with a progress bar.
  static func trainTeacher(recipe: TeacherRecipe, out: URL, tokenizer: any TextTokenizer, start: TrainingStart) throws {
    let group = try ProcessGroup.announced()
    let display = group.isLeader ? TeacherRunDisplay(recipe: recipe, out: out) : nil
    try TrainingStartFlags.explained {
      try TeacherTraining.run(
        TeacherTrainingParameters(recipe: recipe, output: out, tokenizer: tokenizer, start: start, communicator: group)
      ) { display?.show($0) }
    }
    display?.finish()
  }

  static let importModel = Command(
    path: ["teacher", "import"],
    summary: "Validate a Hugging Face T5/BART folder and convert it into a Tessera teacher",
    discussion: """
      EXAMPLE:
        tessera teacher import ~/models/t5-small --out teachers/t5-small

      Reads config.json, model.safetensors or its shards (F32, F16 or BF16),
      generation_config.json and tokenizer.json; every weight must be present
      with its shape. Writes a copy in --out (F32 unless --dtype; sharded with
      --max-shard-size) with the generation settings.
      --out must be new, empty or a model folder Tessera wrote; --force also
      replaces another Tessera output, but never a file, a folder with other
      files, the current folder or the source.
      """,
    positionals: [Positional(name: "DIR", help: "Hugging Face model folder")],
    options: [
      .value("--out", "DIR", "Where to write the converted teacher (required)"),
      .flag("--force", "Replace another Tessera output (a teacher, registry, report, …) at --out"),
    ] + WeightFormatFlags.options
  ) { arguments in
    let format = try WeightFormatFlags.format(arguments)
    let source = URL(fileURLWithPath: arguments.positional(0)!)
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    try OutputFolder.claim(out, as: .model, force: arguments.has("--force"), reading: [source])
    let model = try ModelLoading.load(from: source)
    let tokenizer = try tokenizerIfPresent(in: source)
    let generation = try ModelExport.generationConfigCopy(from: source, for: model)
    try ModelExport.save(model, to: out, tokenizer: tokenizer, extraFiles: generation, format: format)
    print("""
      imported \(model.modelType): \(model.encoder.depth)+\(model.decoder.depth) layers, d_model \(model.modelWidth), \
      \(model.parameterCount.formatted()) parameters\(tokenizer != nil ? "" : " (no tokenizer.json found)")
      saved \(out.path)
      """)
  }

  private static func applyModelFlags(_ arguments: ParsedArguments, to recipe: inout TeacherRecipe) throws {
    if let type = arguments.string("--model-type") {
      guard ["t5", "bart"].contains(type) else { throw UsageError("--model-type must be t5 or bart, got '\(type)'") }
      recipe.model["model_type"] = .string(type)
    }
    let isBart = recipe.model["model_type"] == .string("bart")
    let names: [(flag: String, t5: [String], bart: [String])] = [
      ("--d-model", ["d_model"], ["d_model"]), ("--d-ff", ["d_ff"], ["encoder_ffn_dim", "decoder_ffn_dim"]),
      ("--heads", ["num_heads"], ["encoder_attention_heads", "decoder_attention_heads"]),
      ("--layers", ["num_layers"], ["encoder_layers"]), ("--decoder-layers", ["num_decoder_layers"], ["decoder_layers"]),
    ]
    for (flag, t5, bart) in names {
      guard let value = try arguments.int(flag) else { continue }
      guard value > 0 else { throw UsageError("\(flag) must be positive, got \(value)") }
      for key in isBart ? bart : t5 { recipe.model[key] = .number(Double(value)) }
    }
    if !isBart, let width = try arguments.int("--d-model"), let heads = try arguments.int("--heads") ?? (recipe.model["num_heads"].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } }) {
      recipe.model["d_kv"] = .number(Double(max(1, width / max(heads, 1))))
    }
  }

  private static func applyTrainingFlags(_ arguments: ParsedArguments, to training: inout TrainingParameters) throws {
    if let v = try arguments.int("--steps") { training.steps = v }
    if let v = try arguments.double("--lr") { training.learningRate = Float(v) }
    if let v = try arguments.int("--warmup") { training.warmupSteps = v }
    if let v = try arguments.double("--label-smoothing") { training.labelSmoothing = Float(v) }
    if let v = try arguments.double("--dropout") { training.dropout = Float(v) }
    if let v = try arguments.int("--validate-every") { training.validateEvery = v }
    if let v = try arguments.int("--checkpoint-every") { training.checkpointEvery = v }
    if let v = try arguments.int("--seed") { training.seed = UInt64(max(0, v)) }
    if let problem = training.validationProblem() { throw UsageError("training \(problem.key): \(problem.message)") }
  }
}

/// Prints a teacher run's events with a progress bar; shared with `tessera demo`.
final class TeacherRunDisplay {
  let recipe: TeacherRecipe
  let out: URL
  private let bar: ProgressBar
  private var lastValidation = ""

  init(recipe: TeacherRecipe, out: URL) {
    self.recipe = recipe
    self.out = out
    bar = ProgressBar(total: recipe.training.steps, label: "train")
  }

  func show(_ event: TeacherTrainingEvent) {
    switch event {
    case .started(let model, let trainCount, let validCount, let resumedAt):
      if let resumedAt { print("resumed at step \(resumedAt) from \(out.path)") }
      print("""
        teacher: \(model.modelType), \(model.encoder.depth)+\(model.decoder.depth) layers, d_model \(model.modelWidth), \
        \(model.parameterCount.formatted()) parameters
        data: \(recipe.data.displayName), \(trainCount) train / \(validCount) valid examples, \(recipe.data.batchTokens) tokens a batch
        """)
    case .step(let progress):
      if let loss = progress.validationLoss { lastValidation = String(format: " · valid %.3f", loss) }
      bar.update(progress.step, detail: String(format: "loss %.3f%@ · %.0f tok/s", progress.loss, lastValidation, progress.tokensPerSecond))
    }
  }

  func finish() {
    bar.finish(detail: lastValidation)
    print("saved \(out.path)")
  }
}

/// `--task NAME | --data FILE` and friends, shared by every command that reads examples.
enum DatasetOptions {
  static let options: [Option] = [
    .value("--task", "NAME", "Built-in task: \(BuiltinTask.names.joined(separator: ", "))"),
    .value("--data", "FILE", "Training examples (JSONL, TSV or CSV) instead of a task"),
    .value("--valid", "FILE", "Validation examples (default: the last 5% of --data)"),
    .value("--test", "FILE", "Test examples"),
    .value("--train-examples", "N", "Training examples drawn from the task"),
    .value("--valid-examples", "N", "Validation examples"),
    .value("--test-examples", "N", "Test examples"),
    .value("--batch-tokens", "N", "Most padded tokens in a batch"),
    .value("--data-seed", "N", "Seed of the task generator and batch shuffling"),
  ]

  static func apply(_ arguments: ParsedArguments, to data: inout DatasetSpec) throws {
    if let task = arguments.string("--task") {
      guard BuiltinTask.names.contains(task) else {
        throw UsageError("unknown task '\(task)'; one of \(BuiltinTask.names.joined(separator: ", "))")
      }
      // A recipe's task settings belong to its task.
      if data.task != task { data.taskSettings = [:] }
      data.task = task
      data.trainFile = nil
    }
    if let file = arguments.string("--data") {
      guard arguments.string("--task") == nil else { throw UsageError("give either --task or --data, not both") }
      data.trainFile = file
      data.task = nil
      data.taskSettings = [:]
    }
    if let file = arguments.string("--valid") { data.validFile = file }
    if let file = arguments.string("--test") { data.testFile = file }
    if let v = try arguments.int("--train-examples") { data.trainExamples = v }
    if let v = try arguments.int("--valid-examples") { data.validExamples = v }
    if let v = try arguments.int("--test-examples") { data.testExamples = v }
    if let v = try arguments.int("--batch-tokens") {
      guard v > 0 else { throw UsageError("--batch-tokens must be positive") }
      data.batchTokens = v
    }
    if let v = try arguments.int("--data-seed") { data.seed = UInt64(max(0, v)) }
    if data.task == nil && data.trainFile == nil { throw UsageError("give --task NAME or --data FILE (or a recipe with data)") }
  }
}
