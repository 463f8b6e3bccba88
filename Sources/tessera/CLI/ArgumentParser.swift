import Foundation

/// The options and positionals of one command line, checked against a `Command`.
struct ParsedArguments: Sendable {
  let command: String
  private(set) var values: [String: String] = [:]
  private(set) var flags: Set<String> = []
  private(set) var positionals: [String] = []

  /// Parses `arguments` (the words after the command path). Unknown options,
  /// missing values and surplus positionals are usage errors.
  init(_ arguments: [String], for command: Command) throws {
    self.command = command.name
    let byName = Dictionary(command.options.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var index = 0
    var onlyPositionals = false
    while index < arguments.count {
      let word = arguments[index]
      index += 1
      if onlyPositionals || !word.hasPrefix("--") || word == "-" {
        positionals.append(word)
        continue
      }
      if word == "--" {
        onlyPositionals = true
        continue
      }
      var name = word
      var inlineValue: String?
      if let equals = word.firstIndex(of: "=") {
        name = String(word[..<equals])
        inlineValue = String(word[word.index(after: equals)...])
      }
      guard let option = byName[name] else {
        throw UsageError("unknown option '\(name)' for 'tessera \(command.name)'")
      }
      if option.valueName == nil {
        guard inlineValue == nil else { throw UsageError("option '\(name)' takes no value") }
        flags.insert(name)
      } else if let inlineValue {
        values[name] = inlineValue
      } else {
        guard index < arguments.count else {
          throw UsageError("option '\(name)' needs a value (\(option.valueName!))")
        }
        values[name] = arguments[index]
        index += 1
      }
    }
    for option in command.options where values[option.name] == nil {
      if let fallback = option.defaultValue { values[option.name] = fallback }
    }
    let required = command.positionals.filter { !$0.isOptional && !$0.isVariadic }.count
    let variadic = command.positionals.contains { $0.isVariadic }
    if positionals.count < required {
      let missing = command.positionals[positionals.count].name
      throw UsageError("missing argument \(missing) for 'tessera \(command.name)'")
    }
    if !variadic && positionals.count > command.positionals.count {
      throw UsageError("unexpected argument '\(positionals[command.positionals.count])' for 'tessera \(command.name)'")
    }
  }

  func has(_ flag: String) -> Bool { flags.contains(flag) }

  func string(_ name: String) -> String? { values[name] }

  func require(_ name: String) throws -> String {
    guard let value = values[name] else { throw UsageError("'tessera \(command)' needs \(name)") }
    return value
  }

  func int(_ name: String) throws -> Int? {
    guard let text = values[name] else { return nil }
    guard let value = Int(text) else { throw UsageError("\(name) expects an integer, got '\(text)'") }
    return value
  }

  /// An integer that must be at least 1 (`--threads 0` is an error, not clamped).
  func positiveInt(_ name: String) throws -> Int? {
    guard let value = try int(name) else { return nil }
    guard value > 0 else { throw UsageError("\(name) must be at least 1, got \(value)") }
    return value
  }

  func double(_ name: String) throws -> Double? {
    guard let text = values[name] else { return nil }
    guard let value = Double(text), value.isFinite else {
      throw UsageError("\(name) expects a number, got '\(text)'")
    }
    return value
  }

  /// A comma-separated list (`--ratios 1.5,2,3`).
  func list(_ name: String) -> [String]? {
    values[name].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
  }

  func positional(_ index: Int) -> String? { index < positionals.count ? positionals[index] : nil }
}
