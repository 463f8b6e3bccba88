import ModularCompression

/// `--resume` and `--force` of the training commands.
enum TrainingStartFlags {
  static let options: [Option] = [
    .flag("--resume", "Continue the earlier run's checkpoint (a finished run only finishes what is left)"),
    .flag("--force", "Start over, replacing the checkpoint (or teacher) an earlier run left; other files are never replaced"),
  ]

  /// The start the flags ask for; both at once is an error.
  static func start(_ arguments: ParsedArguments) throws -> TrainingStart {
    switch (arguments.has("--resume"), arguments.has("--force")) {
    case (true, true):
      throw UsageError("--resume and --force contradict each other: --resume continues the earlier run, --force starts over")
    case (true, false): return .resume
    case (false, true): return .restart
    case (false, false): return .fresh
    }
  }

  /// Runs `body`, turning the library's refusals into usage errors that name the flags.
  @discardableResult
  static func explained<Result>(_ body: () throws -> Result) throws -> Result {
    do { return try body() } catch let error as TrainingStartError {
      switch error.kind {
      case .earlierRun: throw UsageError("\(error); pass --resume to continue it or --force to start over")
      case .nothingToResume: throw UsageError("\(error); run without --resume to start")
      case .foreignOutput: throw UsageError(error.description)
      }
    }
  }
}
