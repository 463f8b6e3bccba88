/// One subcommand of `tessera`: its words (`["bench", "gemm"]`), help text and
/// the options it accepts. Commands register themselves in `CommandList.swift`.
struct Command: Sendable {
  /// The words after `tessera` that select this command.
  let path: [String]
  /// One line for the command list.
  let summary: String
  /// Extra paragraphs for `--help` (examples, file formats).
  let discussion: String
  /// Positional argument names, shown in the usage line (e.g. `["FILE"]`).
  let positionals: [Positional]
  let options: [Option]
  let run: @Sendable (ParsedArguments) throws -> Void

  init(
    path: [String], summary: String, discussion: String = "",
    positionals: [Positional] = [], options: [Option] = [],
    run: @escaping @Sendable (ParsedArguments) throws -> Void
  ) {
    self.path = path
    self.summary = summary
    self.discussion = discussion
    self.positionals = positionals
    self.options = options
    self.run = run
  }

  var name: String { path.joined(separator: " ") }
}

struct Positional: Sendable {
  let name: String
  let help: String
  var isOptional = false
  var isVariadic = false
}

/// A `--name VALUE` option, or a `--name` flag when `valueName` is nil.
struct Option: Sendable {
  let name: String
  let valueName: String?
  let help: String
  let defaultValue: String?

  static func value(_ name: String, _ valueName: String, _ help: String, default defaultValue: String? = nil) -> Option {
    Option(name: name, valueName: valueName, help: help, defaultValue: defaultValue)
  }

  static func flag(_ name: String, _ help: String) -> Option {
    Option(name: name, valueName: nil, help: help, defaultValue: nil)
  }
}

/// A mistake in how the program was called: printed with a hint, exit code 2.
struct UsageError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
