import Foundation
import TensorCore

// Bad TESSERA_* values are warned about before any command output.
EnvironmentSettings.check()
exit(Runner.main(Array(CommandLine.arguments.dropFirst()), commands: allCommands))
