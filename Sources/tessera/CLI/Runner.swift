import Foundation
import TensorCore

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
    if let size = ProcessGroup.launcherSize, size > 1, !dataParallelCommands.contains(command.path) {
      let allowed = dataParallelCommands.map { "tessera " + $0.joined(separator: " ") }.joined(separator: ", ")
      return fail("'tessera \(command.name)' runs in one process; under mpirun only \(allowed) run (data-parallel)", code: 2)
    }
    do {
      let parsed = try ParsedArguments(rest, for: command)
      try command.run(parsed)
      ProcessGroup.started?.finish()
      return 0
    } catch let error as UsageError {
      return fail("\(error.description)\nrun 'tessera \(command.name) --help' for usage", code: 2)
    } catch {
      // Under mpirun the other processes wait for this one: stop them all.
      if let group = ProcessGroup.started, group.size > 1 { group.abort("error: \(error)", code: 1) }
      return fail(String(describing: error), code: 1)
    }
  }

  /// The trainings that split their batches over the processes mpirun starts;
  /// any other command under mpirun would run once per process, writing the same files.
  static let dataParallelCommands: [[String]] = [
    ["teacher", "train"], ["modules", "train"], ["baselines", "train"], ["baselines", "sweep"],
  ]

  private static func fail(_ message: String, code: Int32) -> Int32 {
    FileHandle.standardError.write(Data(((code == 0 ? "" : "error: ") + message + "\n").utf8))
    return code
  }
}
