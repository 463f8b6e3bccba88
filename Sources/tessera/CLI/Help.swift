import Foundation

/// Renders `--help` text for the program and for each command.
enum Help {
  static func program(_ commands: [Command]) -> String {
    var lines = [
      "tessera \(TesseraVersion.string) — modular compression of seq2seq Transformers (T5, BART)",
      "",
      "USAGE: tessera <command> [options]",
      "",
      "COMMANDS:",
    ]
    let width = (commands.map { $0.name.count }.max() ?? 0) + 2
    for command in commands {
      lines.append("  " + command.name.padding(toLength: width, withPad: " ", startingAt: 0) + command.summary)
    }
    lines += [
      "",
      "OPTIONS:",
      "  --help       Show help (also after any command: tessera bench gemm --help)",
      "  --version    Show the version",
      "",
      "ENVIRONMENT:",
      "  TESSERA_BLAS=auto|openblas|none   matrix-multiply backend (default auto)",
      "  TESSERA_THREADS=N                 threads for kernels and BLAS (default: all cores)",
    ]
    return lines.joined(separator: "\n")
  }

  static func command(_ command: Command) -> String {
    var usage = "USAGE: tessera \(command.name)"
    if !command.options.isEmpty { usage += " [options]" }
    for positional in command.positionals {
      let word = positional.name + (positional.isVariadic ? " …" : "")
      usage += positional.isOptional || positional.isVariadic ? " [\(word)]" : " \(word)"
    }
    var lines = [command.summary, "", usage]
    if !command.positionals.isEmpty {
      lines += ["", "ARGUMENTS:"]
      for positional in command.positionals {
        lines.append("  " + positional.name.padding(toLength: 22, withPad: " ", startingAt: 0) + positional.help)
      }
    }
    lines += ["", "OPTIONS:"]
    for option in command.options {
      var left = option.name
      if let valueName = option.valueName { left += " \(valueName)" }
      var help = option.help
      if let fallback = option.defaultValue { help += " (default: \(fallback))" }
      lines.append("  " + left.padding(toLength: 28, withPad: " ", startingAt: 0) + help)
    }
    lines.append("  " + "--help".padding(toLength: 28, withPad: " ", startingAt: 0) + "Show this help")
    if !command.discussion.isEmpty { lines += ["", command.discussion] }
    return lines.joined(separator: "\n")
  }
}
