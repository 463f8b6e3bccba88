/// One difficulty setting of a built-in task (`max-digits=4`).
public struct TaskKnob: Sendable, Equatable {
  /// The key used on the command line: `--difficulty max-digits=3`.
  public let name: String
  public let summary: String
  public let defaultValue: String
}

import TensorCore

/// What a built-in task is: its name, a one-line description, its knobs, and
/// the split sizes `tessera data make` uses when none are given.
public struct TaskSpec: Sendable {
  public let name: String
  public let summary: String
  public let knobs: [TaskKnob]
  /// Default (train, valid, test) sizes, chosen to fit the task's default space.
  public let defaultSizes: (train: Int, valid: Int, test: Int)
}

/// A task generator: one random example per call.
protocol ExampleMaker: Sendable {
  func makeExample(using random: inout SeededRandom) -> Example
}

/// The resolved knob values of one task, with typed, checked accessors.
struct TaskSettings {
  let task: String
  let values: [String: String]

  func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
    let text = values[key] ?? ""
    guard let value = Int(text), range.contains(value) else {
      throw TaskError.badSetting(
        task: task, key: key, value: text, expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
    }
    return value
  }

  func choice(_ key: String, of options: [String]) throws -> String {
    let text = values[key] ?? ""
    guard options.contains(text) else {
      throw TaskError.badSetting(task: task, key: key, value: text, expected: "one of " + options.joined(separator: ", "))
    }
    return text
  }

  func string(_ key: String) -> String { values[key] ?? "" }
}

/// Mistakes in asking for a built-in task.
public enum TaskError: Error, Equatable, CustomStringConvertible {
  case unknownTask(String, known: [String])
  case unknownSetting(task: String, key: String, known: [String])
  case badSetting(task: String, key: String, value: String, expected: String)
  case malformedSettings(String)
  case notEnoughExamples(task: String, split: TaskSplit, wanted: Int, found: Int)
  case negativeCount(split: TaskSplit, count: Int)

  public var description: String {
    switch self {
    case .unknownTask(let name, let known):
      return "unknown task '\(name)'; built-in tasks: \(known.joined(separator: ", "))"
    case .unknownSetting(let task, let key, let known):
      return "task '\(task)' has no setting '\(key)'; its settings: \(known.joined(separator: ", "))"
    case .badSetting(let task, let key, let value, let expected):
      return "task '\(task)': setting \(key)='\(value)' is invalid; expected \(expected)"
    case .malformedSettings(let item):
      return "task settings are written key=value,key=value; '\(item)' is not"
    case .notEnoughExamples(let task, let split, let wanted, let found):
      return "task '\(task)' could only produce \(found) distinct \(split.rawValue) examples of the \(wanted) asked"
        + " with these settings; ask for fewer or make the task harder (larger space)"
    case .negativeCount(let split, let count):
      return "the \(split.rawValue) size must not be negative (got \(count))"
    }
  }
}

/// The three parts of a generated data set; no source appears in two of them.
public struct TaskSplits: Sendable {
  public var train: [Example]
  public var valid: [Example]
  public var test: [Example]

  public subscript(split: TaskSplit) -> [Example] {
    switch split {
    case .train: return train
    case .valid: return valid
    case .test: return test
    }
  }
}
