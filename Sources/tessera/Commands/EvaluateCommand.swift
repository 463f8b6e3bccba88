import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// `tessera evaluate`: generate on a task split or a data file and score.
enum EvaluateCommand {
  /// More examples than this is a typo, not an evaluation.
  static let maxCount = 1_000_000

  static let command = Command(
    path: ["evaluate"],
    summary: "Generate with a model on a task split or data file and print its metrics",
    discussion: """
      EXAMPLES:
        tessera evaluate --model teachers/arith --task arithmetic
        tessera evaluate --model teachers/mine --data test.jsonl --metrics bleu,chrf,rouge --json scores.json

      Prints exact match and the requested metrics of the generated outputs,
      and the teacher-forced loss and perplexity. Generation follows the
      folder's generation_config.json (or config.json's generation fields),
      else greedy up to the longest target plus 8 tokens; flags override.
      """,
    options: [
      .value("--model", "DIR", "Model folder with its tokenizer (required)"),
      .value("--task", "NAME", "Built-in task: \(BuiltinTask.names.joined(separator: ", "))"),
      .value("--data", "FILE", "Examples to score (JSONL, TSV or CSV) instead of a task"),
      .value("--split", "NAME", "Task split: train, valid or test (with --task; default test)"),
      .value("--count", "N", "Examples: drawn from the task (default 500), or the first N of --data (default all)"),
      .value("--data-seed", "N", "Seed of the task generator (with --task; default 1)"),
      .value("--metrics", "LIST", "Metrics: em, bleu, chrf, rouge", default: "em,chrf,bleu"),
    ] + GenerateCommand.generationFlags + [
      .value("--max-source-tokens", "N", "Longer sources are refused (and BART's position limit applies)", default: "512"),
      .value("--json", "FILE", "Also write the result as JSON"),
      .value("--predictions", "FILE", "Also write one prediction per line"),
    ]
  ) { arguments in
    let count = try arguments.int("--count")
    if let count, count < 1 || count > maxCount {
      throw UsageError("--count must be between 1 and \(maxCount), got \(count)")
    }
    let examples: [Example]
    switch (arguments.string("--task"), arguments.string("--data")) {
    case (.some, .some): throw UsageError("give --task NAME or --data FILE, not both")
    case (nil, nil): throw UsageError("give --task NAME or --data FILE")
    case (let task?, nil):
      guard let split = TaskSplit(rawValue: arguments.string("--split") ?? "test") else {
        throw UsageError("--split must be train, valid or test")
      }
      let seed = try arguments.int("--data-seed") ?? 1
      guard seed >= 0 else { throw UsageError("--data-seed must not be negative, got \(seed)") }
      examples = try BuiltinTask.named(task).examples(split: split, count: count ?? 500, seed: UInt64(seed))
    case (nil, let file?):
      for flag in ["--split", "--data-seed"] where arguments.string(flag) != nil {
        throw UsageError("\(flag) applies to --task, not to --data")
      }
      let all = try DataFileReader(url: URL(fileURLWithPath: file), options: DataFileOptions()).readAll()
      if let count, count > all.count { throw UsageError("--count \(count) asks for more than the \(all.count) examples in \(file)") }
      examples = Array(all.prefix(count ?? all.count))
    }
    let metrics = try TextMetric.parseList(arguments.list("--metrics") ?? ["em"])
    let folder = URL(fileURLWithPath: try arguments.require("--model"))
    let model = try ModelLoading.load(from: folder)
    let tokenizer = try loadTokenizer(from: folder)
    try ModelInputChecks.tokenizer(
      tokenizer, fits: model, tokenizerFile: folder.appendingPathComponent(tokenizerFileName).path, modelFolder: folder.path)
    let options = try ModelEvaluation.generationOptions(
      model: model, longestTarget: examples.map { tokenizer.encode($0.target).count }.max() ?? 1,
      generation: GenerationSettings.read(folder: folder)) { try GenerateCommand.applyGenerationFlags(arguments, to: &$0) }
    try GenerateCommand.checkOptions(options, for: model)
    do {
      try options.checkSources(examples.map { tokenizer.encode($0.source) }, for: model)
    } catch let error as GenerationError {
      throw GenerateCommand.describe(error, firstInput: 1, options: options)
    }
    let bar = ProgressBar(total: examples.count, label: "evaluate")
    let (result, predictions) = try ModelEvaluation.run(
      model: model, tokenizer: tokenizer, examples: examples, metrics: metrics, options: options
    ) { bar.update($0) }
    bar.finish()
    print(Metrics.table(result.metrics + [MetricValue(name: "loss", value: result.loss), MetricValue(name: "perplexity", value: result.perplexity)]))
    print("\(result.examples) examples, \(String(format: "%.1f", result.generationSeconds)) s generating")
    if let path = arguments.string("--json") {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try AtomicFile.write(try encoder.encode(result), to: URL(fileURLWithPath: path))
    }
    if let path = arguments.string("--predictions") {
      try AtomicFile.write(Data((predictions.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: path))
    }
  }
}
