import Foundation
import TensorCore

/// A built-in task with its settings resolved: `scan`, `arithmetic`, `numbers`
/// or `dates`.
///
/// Splits are decided by a stable hash of the source text (80% train, 10%
/// valid, 10% test), so a source belongs to the same split for every seed,
/// every size and every run: a model trained on `train` with one seed is never
/// evaluated on its own training examples with another seed. Within a split,
/// examples are drawn from a seeded stream and deduplicated by source; the
/// first `n` examples of a split do not depend on how many are asked for.
public struct BuiltinTask: Sendable {
  public let spec: TaskSpec
  /// Every knob of the task, defaults filled in.
  public let settings: [String: String]
  private let maker: any ExampleMaker

  /// Every built-in task, in the order `tessera data tasks` lists them.
  public static var specs: [TaskSpec] { registry.map(\.spec) }

  public static var names: [String] { registry.map(\.spec.name) }

  /// The task called `name`, with `settings` overriding knob defaults.
  /// Throws `TaskError` for an unknown task, an unknown knob or a bad value.
  public static func named(_ name: String, settings overrides: [String: String] = [:]) throws -> BuiltinTask {
    guard let entry = registry.first(where: { $0.spec.name == name.lowercased() }) else {
      throw TaskError.unknownTask(name, known: names)
    }
    let knobNames = entry.spec.knobs.map(\.name)
    for key in overrides.keys.sorted() where !knobNames.contains(key) {
      throw TaskError.unknownSetting(task: entry.spec.name, key: key, known: knobNames)
    }
    var values: [String: String] = [:]
    for knob in entry.spec.knobs { values[knob.name] = overrides[knob.name] ?? knob.defaultValue }
    let maker = try entry.make(TaskSettings(task: entry.spec.name, values: values))
    return BuiltinTask(spec: entry.spec, settings: values, maker: maker)
  }

  /// Parses `key=value,key=value` (the `--difficulty` option) into settings.
  public static func parseSettings(_ text: String) throws -> [String: String] {
    var settings: [String: String] = [:]
    for item in text.split(separator: ",") {
      let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2, !parts[0].isEmpty else {
        throw TaskError.malformedSettings(String(item))
      }
      settings[parts[0]] = parts[1]
    }
    return settings
  }

  public var name: String { spec.name }

  /// One random example (any split), for previews and tests.
  public func randomExample(using random: inout SeededRandom) -> Example {
    maker.makeExample(using: &random)
  }

  /// The split a source text belongs to, fixed by its stable hash.
  public static func split(ofSource source: String) -> TaskSplit {
    switch stableBucket(source) {
    case 0..<100: return .test
    case 100..<200: return .valid
    default: return .train
    }
  }

  /// `count` distinct examples of `split`, reproducible from `seed`.
  /// Throws `TaskError.notEnoughExamples` when the task's space (at these
  /// settings) holds too few distinct sources for that split.
  public func examples(split: TaskSplit, count: Int, seed: UInt64) throws -> [Example] {
    guard count >= 0 else { throw TaskError.negativeCount(split: split, count: count) }
    var random = SeededRandom(seed: seed, stream: split.stream)
    var seen = Set<String>()
    var result: [Example] = []
    result.reserveCapacity(count)
    // Give up after this many draws in a row that add nothing: the split is
    // (nearly) exhausted at these settings.
    let patience = 50_000
    var misses = 0
    while result.count < count {
      let example = maker.makeExample(using: &random)
      if BuiltinTask.split(ofSource: example.source) == split, seen.insert(example.source).inserted {
        result.append(example)
        misses = 0
      } else {
        misses += 1
        if misses > patience {
          throw TaskError.notEnoughExamples(task: name, split: split, wanted: count, found: result.count)
        }
      }
    }
    return result
  }

  /// Train, validation and test sets of the given sizes; never sharing a source.
  public func makeSplits(train: Int, valid: Int, test: Int, seed: UInt64) throws -> TaskSplits {
    let splits = TaskSplits(
      train: try examples(split: .train, count: train, seed: seed),
      valid: try examples(split: .valid, count: valid, seed: seed),
      test: try examples(split: .test, count: test, seed: seed))
    let trainSources = Set(splits.train.map(\.source))
    let validSources = Set(splits.valid.map(\.source))
    let testOverlaps = splits.test.contains { trainSources.contains($0.source) || validSources.contains($0.source) }
    precondition(trainSources.isDisjoint(with: validSources) && !testOverlaps, "hash-assigned splits overlap")
    return splits
  }

  private struct Entry: Sendable {
    let spec: TaskSpec
    let make: @Sendable (TaskSettings) throws -> any ExampleMaker
  }

  private static let registry: [Entry] = [
    Entry(spec: ScanTask.spec, make: { try ScanTask(settings: $0) }),
    Entry(spec: ArithmeticTask.spec, make: { try ArithmeticTask(settings: $0) }),
    Entry(spec: NumbersTask.spec, make: { try NumbersTask(settings: $0) }),
    Entry(spec: DatesTask.spec, make: { try DatesTask(settings: $0) }),
  ]
}
