/// Every subcommand, in the order `tessera --help` lists them.
/// Each command file adds one entry here.
let allCommands: [Command] = [
  TeacherCommands.train,
  TeacherCommands.importModel,
  GenerateCommand.command,
  EvaluateCommand.command,
  ForwardCommand.command,
  ModulesCommands.train,
  ModulesCommands.probe,
  RegistryCommands.list,
  RegistryCommands.show,
  RegistryCommands.verify,
  RegistryCommands.remove,
  AssembleCommand.command,
  BenchCommands.gemm,
  BenchCommands.ops,
  ModelBenchmark.command,
  DataCommands.tasks,
  DataCommands.make,
  DataCommands.stats,
  ScoreCommand.command,
]
