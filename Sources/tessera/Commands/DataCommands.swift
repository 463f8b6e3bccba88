import Foundation
import ModularCompression
import TensorCore
import TextTasks

/// `tessera data …`: generate built-in task data and inspect example files.
enum DataCommands {
  static let tasks = Command(
    path: ["data", "tasks"], summary: "List the built-in tasks, their difficulty settings and an example",
    discussion: """
      EXAMPLE:
        tessera data tasks
      """
  ) { _ in
    for spec in BuiltinTask.specs {
      let task = try BuiltinTask.named(spec.name)
      // The longest of a few examples shows more of the task than a random one.
      let example = try task.examples(split: .train, count: 20, seed: 0).max { $0.source.count < $1.source.count }!
      print("\(spec.name) — \(spec.summary)")
      print("  e.g. \(example.source.debugDescription) → \(example.target.debugDescription)")
      print("  default sizes: train \(spec.defaultSizes.train), valid \(spec.defaultSizes.valid), test \(spec.defaultSizes.test)")
      for knob in spec.knobs {
        print("  \(knob.name)=\(knob.defaultValue)".padding(toLength: 30, withPad: " ", startingAt: 0) + knob.summary)
      }
      print("")
    }
  }

  static let make = Command(
    path: ["data", "make"], summary: "Generate train/valid/test JSONL files of a built-in task",
    discussion: """
      Writes DIR/train.jsonl, DIR/valid.jsonl and DIR/test.jsonl (one {"source": …, "target": …}
      object a line) and DIR/task.json (task, settings, seed, sizes). The same task, settings and
      seed always give byte-identical files. A source text belongs to one split for every seed
      (a stable hash picks it), so splits never share an example. DIR must be new, empty or
      task data written before; --force also replaces another Tessera output there.

      EXAMPLES:
        tessera data make --task arithmetic --out data/arithmetic
        tessera data make --task scan --out data/scan --train 2000 --test 500 --seed 7
        tessera data make --task numbers --out data/numbers --difficulty max-digits=6,direction=to-words
      """,
    options: [
      .value("--task", "NAME", "Built-in task: " + BuiltinTask.names.joined(separator: ", ")),
      .value("--out", "DIR", "Folder for the files (created if missing)"),
      .value("--train", "N", "Training examples (default: per task, see 'tessera data tasks')"),
      .value("--valid", "N", "Validation examples (default: per task)"),
      .value("--test", "N", "Test examples (default: per task)"),
      .value("--seed", "S", "Random seed", default: "0"),
      .value("--difficulty", "K=V,…", "Task settings, e.g. max-digits=3,operations=+-"),
      .flag("--force", "Replace another Tessera output (a model, report, …) at --out"),
    ]
  ) { arguments in
    let name = try arguments.require("--task")
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let settings: [String: String]
    let task: BuiltinTask
    do {
      settings = try arguments.string("--difficulty").map(BuiltinTask.parseSettings) ?? [:]
      task = try BuiltinTask.named(name, settings: settings)
    } catch let error as TaskError {
      throw UsageError(error.description)
    }
    guard let seedText = arguments.string("--seed"), let seed = UInt64(seedText) else {
      throw UsageError("--seed expects a non-negative integer, got '\(arguments.string("--seed") ?? "")'")
    }
    let sizes = task.spec.defaultSizes
    let train = try count(arguments, "--train", default: sizes.train)
    let valid = try count(arguments, "--valid", default: sizes.valid)
    let test = try count(arguments, "--test", default: sizes.test)
    let existing = try OutputFolder.claim(out, as: .dataset, force: arguments.has("--force"))

    let splits = try task.makeSplits(train: train, valid: valid, test: test, seed: seed)
    if case .tessera(let kind) = existing, kind != .dataset { try FileManager.default.removeItem(at: out) }
    try FileAccess.createFolder(out)
    for split in TaskSplit.allCases {
      try DataFileWriter.writeJSONL(splits[split], to: out.appendingPathComponent("\(split.rawValue).jsonl"))
    }
    let provenance = TaskFileProvenance(
      task: task.name, settings: task.settings, seed: seed, sizes: ["train": train, "valid": valid, "test": test])
    try TaskFileProvenance.write(provenance, into: out)
    print("wrote \(train) train, \(valid) valid, \(test) test examples of '\(task.name)' (seed \(seed)) to \(out.path)")
  }

  static let stats = Command(
    path: ["data", "stats"], summary: "Count the examples of a data file and show length percentiles",
    discussion: """
      Reads the file as a stream. Lengths are in characters (Unicode code points) and in UTF-8 bytes.
      Formats: .jsonl (one JSON object a line), .tsv (source<TAB>target), .csv (RFC 4180); a TSV/CSV
      header row naming the source and target fields picks the columns.

      EXAMPLES:
        tessera data stats data/arithmetic/train.jsonl
        tessera data stats pairs.csv --source-field question --target-field answer --skip-bad-lines
      """,
    positionals: [Positional(name: "FILE", help: "A .jsonl, .tsv or .csv file of examples")],
    options: dataFileOptions
  ) { arguments in
    let url = URL(fileURLWithPath: arguments.positional(0)!)
    let reader = try DataFileReader(url: url, options: try readOptions(arguments))
    var lengths: [[Int]] = [[], [], [], []]  // source chars, source bytes, target chars, target bytes
    var distinctSources = Set<Int>()
    while let example = try reader.next() {
      lengths[0].append(example.source.unicodeScalars.count)
      lengths[1].append(example.source.utf8.count)
      lengths[2].append(example.target.unicodeScalars.count)
      lengths[3].append(example.target.utf8.count)
      distinctSources.insert(example.source.hashValue)
    }
    print("file       \(url.path) (\(reader.format.rawValue))")
    print("examples   \(reader.examplesRead) (about \(distinctSources.count) distinct sources; \(reader.skippedLines) bad lines skipped)")
    let columns = ["min", "p50", "p90", "p95", "p99", "max", "mean"]
    print("".padding(toLength: 14, withPad: " ", startingAt: 0) + columns.map { $0.leftPadded(8) }.joined())
    for (label, values) in zip(["source chars", "source bytes", "target chars", "target bytes"], lengths) {
      let sorted = values.sorted()
      var cells = [0, 50, 90, 95, 99, 100].map { String(percentile(sorted, $0)).leftPadded(8) }
      cells.append(String(format: "%.1f", Double(sorted.reduce(0, +)) / Double(max(sorted.count, 1))).leftPadded(8))
      print(label.padding(toLength: 14, withPad: " ", startingAt: 0) + cells.joined())
    }
  }

  /// Reading options shared by commands that take a data file.
  static let dataFileOptions: [Option] = [
    .value("--format", "FORMAT", "jsonl, tsv or csv (default: from the file extension)"),
    .value("--source-field", "NAME", "JSON field or header column of the source", default: "source"),
    .value("--target-field", "NAME", "JSON field or header column of the target", default: "target"),
    .flag("--skip-bad-lines", "Skip and count malformed lines instead of stopping"),
  ]

  static func readOptions(_ arguments: ParsedArguments) throws -> DataFileOptions {
    var options = DataFileOptions(
      sourceField: arguments.string("--source-field") ?? "source", targetField: arguments.string("--target-field") ?? "target",
      skipBadLines: arguments.has("--skip-bad-lines"))
    if let name = arguments.string("--format") {
      guard let format = DataFileFormat(rawValue: name.lowercased()) else {
        throw UsageError("--format expects jsonl, tsv or csv, got '\(name)'")
      }
      options.format = format
    }
    return options
  }

  /// Nearest-rank percentile of sorted values (0 for none).
  static func percentile(_ sorted: [Int], _ p: Int) -> Int {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((Double(p) / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
  }

  private static func count(_ arguments: ParsedArguments, _ name: String, default fallback: Int) throws -> Int {
    let value = try arguments.int(name) ?? fallback
    guard value >= 0 else { throw UsageError("\(name) must not be negative (got \(value))") }
    return value
  }
}

/// `task.json` beside generated data: enough to regenerate it exactly.
struct TaskFileProvenance: Codable {
  let task: String
  let settings: [String: String]
  let seed: UInt64
  let sizes: [String: Int]

  static func write(_ provenance: TaskFileProvenance, into folder: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try AtomicFile.write(try encoder.encode(provenance) + Data("\n".utf8), to: folder.appendingPathComponent("task.json"))
  }
}

extension String {
  fileprivate func leftPadded(_ width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
