import Foundation
import TensorCore
import Seq2SeqModels
import TextTasks

/// Where training and evaluation examples come from: a built-in task or data
/// files. Codable (snake_case) as the `data` part of recipes.
public struct DatasetSpec: Codable, Sendable, Equatable {
  /// A built-in task name (`scan`, `arithmetic`, `numbers`, `dates`).
  public var task: String?
  /// Task difficulty settings (`max_digits` …), as `tessera data tasks` lists them.
  public var taskSettings: [String: String] = [:]
  /// A training file (JSONL, TSV or CSV) instead of a task.
  public var trainFile: String?
  public var validFile: String?
  public var testFile: String?
  public var trainExamples = 20_000
  public var validExamples = 500
  public var testExamples = 1_000
  public var seed: UInt64 = 1
  /// The most padded tokens (source + target) in one batch.
  public var batchTokens = 4096

  public init(task: String? = nil) { self.task = task }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case task, taskSettings = "task_settings", trainFile = "train_file", validFile = "valid_file", testFile = "test_file"
    case trainExamples = "train_examples", validExamples = "valid_examples", testExamples = "test_examples"
    case seed, batchTokens = "batch_tokens"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = DatasetSpec()
    task = try c.decodeIfPresent(String.self, forKey: .task)
    taskSettings = try c.decodeIfPresent([String: String].self, forKey: .taskSettings) ?? [:]
    trainFile = try c.decodeIfPresent(String.self, forKey: .trainFile)
    validFile = try c.decodeIfPresent(String.self, forKey: .validFile)
    testFile = try c.decodeIfPresent(String.self, forKey: .testFile)
    trainExamples = try c.decodeIfPresent(Int.self, forKey: .trainExamples) ?? d.trainExamples
    validExamples = try c.decodeIfPresent(Int.self, forKey: .validExamples) ?? d.validExamples
    testExamples = try c.decodeIfPresent(Int.self, forKey: .testExamples) ?? d.testExamples
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    batchTokens = try c.decodeIfPresent(Int.self, forKey: .batchTokens) ?? d.batchTokens
    if let problem = validationProblem() {
      let key = CodingKeys(stringValue: problem.key) ?? .task
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: problem.message)
    }
  }

  /// The first invalid or conflicting field (its recipe key) and why, if any:
  /// a task and data files exclude each other, since one of them would be ignored.
  public func validationProblem() -> (key: String, message: String)? {
    if let task, !BuiltinTask.names.contains(task) {
      return ("task", "unknown task '\(task)'; one of \(BuiltinTask.names.joined(separator: ", "))")
    }
    if task != nil, let file = [("train_file", trainFile), ("valid_file", validFile), ("test_file", testFile)]
      .first(where: { $0.1 != nil })
    {
      return (file.0, "cannot be used with 'task': the data comes from a built-in task or from files, not both")
    }
    if task == nil, !taskSettings.isEmpty { return ("task_settings", "needs 'task'") }
    if trainFile == nil, let file = [("valid_file", validFile), ("test_file", testFile)].first(where: { $0.1 != nil }) {
      return (file.0, "needs 'train_file'")
    }
    for (key, count) in [("train_examples", trainExamples), ("valid_examples", validExamples), ("test_examples", testExamples)]
    where count < 1 {
      return (key, "must be at least 1, got \(count)")
    }
    if batchTokens <= 0 { return ("batch_tokens", "must be positive, got \(batchTokens)") }
    return nil
  }

  /// A short name for reports (`arithmetic`, or the training file's name).
  public var displayName: String {
    task ?? trainFile.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "(no data)"
  }

  /// Loads one split. A data file without a validation file gives its last
  /// 5% (at most `validExamples`) to validation.
  public func examples(_ split: TaskSplit) throws -> [Example] {
    if let task {
      let builtin = try BuiltinTask.named(task, settings: taskSettings)
      let count = [TaskSplit.train: trainExamples, .valid: validExamples, .test: testExamples][split]!
      return try builtin.examples(split: split, count: count, seed: seed)
    }
    guard let trainFile else { throw TrainingError("no data: give --task NAME or --data FILE") }
    func read(_ path: String) throws -> [Example] {
      try DataFileReader(url: URL(fileURLWithPath: path), options: DataFileOptions()).readAll()
    }
    switch split {
    case .train, .valid:
      if split == .valid, let validFile { return try read(validFile) }
      let all = try read(trainFile)
      let held = validFile == nil ? min(validExamples, max(1, all.count / 20)) : 0
      return split == .train ? Array(all.dropLast(held).prefix(trainExamples)) : Array(all.suffix(held))
    case .test:
      return try read(testFile ?? validFile ?? trainFile)
    }
  }
}

