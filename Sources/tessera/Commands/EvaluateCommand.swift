import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// `tessera evaluate`: generate on a task split or a data file and score.
enum EvaluateCommand {
  static let command = Command(
    path: ["evaluate"],
    summary: "Generate with a model on a task split or data file and print its metrics",
    discussion: """
      EXAMPLES:
        tessera evaluate --model teachers/arith --task arithmetic
        tessera evaluate --model teachers/mine --data test.jsonl --metrics bleu,chrf,rouge --json scores.json

      Prints exact match and the requested metrics of the generated outputs
      (greedy unless --beams), and the teacher-forced loss and perplexity.
      """,
    options: [
      .value("--model", "DIR", "Model folder with its tokenizer (required)"),
      .value("--task", "NAME", "Built-in task: \(BuiltinTask.names.joined(separator: ", "))"),
      .value("--data", "FILE", "Examples to score (JSONL, TSV or CSV) instead of a task"),
      .value("--split", "NAME", "Task split: train, valid or test", default: "test"),
      .value("--count", "N", "Examples drawn from the task", default: "500"),
      .value("--data-seed", "N", "Seed of the task generator", default: "1"),
      .value("--metrics", "LIST", "Metrics: em, bleu, chrf, rouge", default: "em,chrf,bleu"),
      .value("--beams", "N", "Beam search with N beams (1: greedy)", default: "1"),
      .value("--json", "FILE", "Also write the result as JSON"),
      .value("--predictions", "FILE", "Also write one prediction per line"),
    ]
  ) { arguments in
    let folder = URL(fileURLWithPath: try arguments.require("--model"))
    let model = try ModelLoading.load(from: folder)
    let tokenizer = try loadTokenizer(from: folder)
    let examples: [Example]
    if let task = arguments.string("--task") {
      guard let split = TaskSplit(rawValue: arguments.string("--split") ?? "test") else {
        throw UsageError("--split must be train, valid or test")
      }
      examples = try BuiltinTask.named(task).examples(
        split: split, count: try arguments.int("--count") ?? 500, seed: UInt64(max(0, try arguments.int("--data-seed") ?? 1)))
    } else if let file = arguments.string("--data") {
      examples = try DataFileReader(url: URL(fileURLWithPath: file), options: DataFileOptions()).readAll()
    } else {
      throw UsageError("give --task NAME or --data FILE")
    }
    let metrics = try TextMetric.parseList(arguments.list("--metrics") ?? ["em"])
    let beams = try arguments.int("--beams") ?? 1
    guard beams >= 1 else { throw UsageError("--beams must be at least 1") }
    let bar = ProgressBar(total: examples.count, label: "evaluate")
    let (result, predictions) = try ModelEvaluation.run(
      model: model, tokenizer: tokenizer, examples: examples, metrics: metrics, numBeams: beams) { bar.update($0) }
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
