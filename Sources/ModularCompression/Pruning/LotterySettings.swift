import Foundation
import Seq2SeqModels
import TensorCore
import Tokenizers

/// How a lottery-ticket run prunes and rewinds (Frankle & Carbin 2019;
/// rewinding to an early step as in Frankle et al. 2020).
public struct LotterySettings: Codable, Sendable, Equatable {
  /// Prune-and-retrain rounds after the dense run.
  public var rounds: Int
  /// The share of the still-kept target weights each round removes, in (0, 1).
  public var rate: Double
  /// The step whose weights the survivors are rewound to (0 = the initialisation).
  public var rewindStep: Int
  /// One magnitude threshold over all target layers, or one per layer.
  public var scope: PruningScope

  public init(rounds: Int = 5, rate: Double = 0.2, rewindStep: Int = 0, scope: PruningScope = .global) {
    self.rounds = rounds
    self.rate = rate
    self.rewindStep = rewindStep
    self.scope = scope
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case rounds, rate, rewindStep = "rewind_step", scope
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    rounds = try c.decode(Int.self, forKey: .rounds)
    rate = try c.decode(Double.self, forKey: .rate)
    rewindStep = try c.decode(Int.self, forKey: .rewindStep)
    scope = try c.decode(PruningScope.self, forKey: .scope)
  }

  /// The first setting that cannot run with `steps` training steps (its flag and why), if any.
  public func problem(steps: Int) -> (flag: String, message: String)? {
    if rounds < 1 { return ("--rounds", "must be at least 1, got \(rounds)") }
    if !(rate.isFinite && rate > 0 && rate < 1) { return ("--rate", "must lie strictly between 0 and 1, got \(rate)") }
    if rewindStep < 0 { return ("--rewind", "must not be negative, got \(rewindStep)") }
    if rewindStep >= steps {
      return ("--rewind", "step \(rewindStep) is not before the last of the \(steps) training steps (--steps)")
    }
    return nil
  }
}

/// What a lottery-ticket run is asked to do.
public struct LotteryParameters {
  /// The teacher recipe whose training every round repeats.
  public var recipe: TeacherRecipe
  public var settings: LotterySettings
  public var output: URL
  public var tokenizer: any TextTokenizer
  public var start: TrainingStart

  public init(
    recipe: TeacherRecipe, settings: LotterySettings, output: URL, tokenizer: any TextTokenizer = ByteTokenizer(),
    start: TrainingStart = .fresh
  ) {
    self.recipe = recipe
    self.settings = settings
    self.output = output
    self.tokenizer = tokenizer
    self.start = start
  }
}

/// One training of a lottery run.
public enum LotteryStage: Sendable, Equatable, CustomStringConvertible {
  /// The recipe's teacher, unpruned.
  case dense
  /// Round `r`'s mask on the weights rewound to the rewind step.
  case ticket(round: Int)
  /// Round `r`'s mask on a fresh initialisation of another seed.
  case control(round: Int)

  public var description: String {
    switch self {
    case .dense: "dense"
    case .ticket(let round): "round \(round) ticket"
    case .control(let round): "round \(round) control"
    }
  }
}

/// What a lottery run reports as it goes.
public enum LotteryEvent {
  /// A stage's training begins: `steps` in all, from `firstStep` (the rewind
  /// step for a round), or from `resumedAt` when a checkpoint was resumed.
  case training(LotteryStage, firstStep: Int, steps: Int, resumedAt: Int?)
  case step(LotteryStage, TrainingProgress)
  /// Round `round`'s mask keeps `keptWeights` of the target weights.
  case pruned(round: Int, sparsity: Double, keptWeights: Int)
  /// The test split is being generated: `done` of `total` examples.
  case evaluating(LotteryStage, done: Int, total: Int)
  case measured(LotteryStage, LotteryMeasurement)
  /// A round (0 = dense) an earlier run finished, left as it is.
  case skipped(LotteryRound)
}
