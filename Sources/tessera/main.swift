import Foundation

setvbuf(stdout, nil, _IOLBF, 0)  // lines appear in order with the progress bar on stderr
exit(Runner.main(Array(CommandLine.arguments.dropFirst()), commands: allCommands))
