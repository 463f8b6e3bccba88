import Foundation

enum TesseraVersion {
  static let string = "0.1.0"
}

/// Exit codes: 0 success, 1 the work failed (bad file, diverged run, …), 2 usage.
enum Runner {
  static func main(_ arguments: [String], commands: [Command]) -> Int32 {
    if arguments.isEmpty || arguments == ["--help"] || arguments == ["-h"] || arguments == ["help"] {
      print(Help.program(commands))
      return arguments.isEmpty ? 2 : 0
    }
    if arguments == ["--version"] {
      print("tessera \(TesseraVersion.string)")
      return 0
    }
    // The longest registered path that prefixes the arguments wins.
    let matches = commands.filter { Array(arguments.prefix($0.path.count)) == $0.path }
    guard let command = matches.max(by: { $0.path.count < $1.path.count }) else {
      let group = commands.filter { $0.path.first == arguments[0] }
      if !group.isEmpty {
        let known = group.map { "tessera " + $0.name }.joined(separator: "\n  ")
        let asked = arguments.count > 1 && !arguments[1].hasPrefix("-") ? "unknown subcommand '\(arguments[0]) \(arguments[1])'" : "'\(arguments[0])' needs a subcommand"
        return fail("\(asked); one of:\n  \(known)", code: arguments.contains("--help") ? 0 : 2)
      }
      return fail("unknown command '\(arguments[0])'; run 'tessera --help' for the list", code: 2)
    }
    let rest = Array(arguments.dropFirst(command.path.count))
    if rest.contains("--help") || rest.contains("-h") {
      print(Help.command(command))
      return 0
    }
    do {
      let parsed = try ParsedArguments(rest, for: command)
      try command.run(parsed)
      return 0
    } catch let error as UsageError {
      return fail("\(error.description)\nrun 'tessera \(command.name) --help' for usage", code: 2)
    } catch {
      return fail(String(describing: error), code: 1)
    }
  }

  private static func fail(_ message: String, code: Int32) -> Int32 {
    FileHandle.standardError.write(Data(((code == 0 ? "" : "error: ") + message + "\n").utf8))
    return code
  }
}
