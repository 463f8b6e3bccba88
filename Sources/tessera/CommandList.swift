/// Every subcommand, in the order `tessera --help` lists them.
/// Each command file adds one entry here.
let allCommands: [Command] = [
  TeacherCommands.train,
  TeacherCommands.importModel,
  ForwardCommand.command,
  GenerateCommand.command,
  BenchCommands.gemm,
  BenchCommands.ops,
  DataCommands.tasks,
  DataCommands.make,
  DataCommands.stats,
  ScoreCommand.command,
  RegistryCommands.list,
  RegistryCommands.show,
  RegistryCommands.verify,
  RegistryCommands.remove,
]
