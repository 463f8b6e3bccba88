import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore

/// `tessera lottery`: lottery tickets by iterative magnitude pruning with rewinding, against random re-initialisation.
enum LotteryCommand {
  static let command = Command(
    path: ["lottery"],
    summary: "Find lottery tickets: iterative magnitude pruning with weight rewinding, against random re-initialisation",
    discussion: """
      Trains the recipe's teacher (as 'teacher train --recipe' does) into
      OUT/dense, keeping its weights at step --rewind (0: the initialisation)
      in OUT/rewind. Each of --rounds rounds then removes --rate of the
      still-kept attention and feed-forward weights of the blocks by magnitude
      (one threshold over all of them with --scope global, one per layer with
      --scope layer), rewinds the survivors to their step --rewind values and
      retrains steps --rewind+1 … --steps with the mask fixed: removed weights
      stay exactly zero (their gradients are zeroed before clipping and AdamW,
      and the weights after each update). After r rounds the sparsity is
      1 − (1 − rate)^r. The control of each round is a fresh initialisation of
      another seed under the same mask, trained the same way.

      Every model is measured on the recipe's test split (EM, chrF,
      teacher-forced loss, as 'tessera evaluate'). OUT gets curve.json,
      curve.csv, report.md (the table) and curve.svg after every round, and at
      the end winning-ticket/, a model folder of the sparsest ticket within 1 EM
      point of the dense model (the dense model itself when no pruned ticket
      is), its pruned layers stored sparse. Every training checkpoints: a
      killed run continues with --resume and ends with exactly the curve and
      weights of an uninterrupted one; --resume with a larger --rounds adds rounds.

      EXAMPLES:
        tessera lottery --recipe Recipes/demo-teacher.json --rounds 4 --rate 0.2 --rewind 25 --steps 500 --out lottery/demo
        tessera lottery --recipe Recipes/demo-teacher.json --rounds 6 --rate 0.2 --rewind 25 --steps 500 --out lottery/demo --resume
        tessera evaluate --model lottery/demo/winning-ticket --task numbers
      """,
    options: [
      .value("--recipe", "FILE", "Teacher recipe (model, training, data) whose training every round repeats (required)"),
      .value("--rounds", "N", "Prune-and-retrain rounds after the dense run (required)"),
      .value("--rate", "X", "Share of the kept target weights each round removes, 0 < X < 1", default: "0.2"),
      .value("--rewind", "STEP", "Step whose weights the survivors are rewound to (0 = the initialisation)", default: "0"),
      .value("--steps", "N", "Training steps of every run (default: the recipe's)"),
      .value("--scope", "global|layer", "One magnitude threshold over all target layers, or one per layer", default: "global"),
      .value("--out", "DIR", "Folder of the run: curve, report, every round's checkpoints (required)"),
    ] + TrainingStartFlags.options
  ) { arguments in
    let recipeFile = try arguments.require("--recipe")
    var recipe = try TeacherRecipe.load(from: URL(fileURLWithPath: recipeFile))
    if let steps = try arguments.positiveInt("--steps") { recipe.training.steps = steps }
    if let problem = recipe.training.validationProblem() { throw UsageError("training \(problem.key): \(problem.message)") }
    guard let rounds = try arguments.int("--rounds") else { throw UsageError("give --rounds N (prune-and-retrain rounds)") }
    let scopeName = arguments.string("--scope") ?? PruningScope.global.rawValue
    guard let scope = PruningScope(rawValue: scopeName) else { throw UsageError("--scope must be global or layer, got '\(scopeName)'") }
    let settings = LotterySettings(
      rounds: rounds, rate: try arguments.double("--rate") ?? 0.2, rewindStep: try arguments.int("--rewind") ?? 0, scope: scope)
    if let problem = settings.problem(steps: recipe.training.steps) { throw UsageError("\(problem.flag) \(problem.message)") }
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let display = LotteryDisplay(settings: settings, steps: recipe.training.steps)
    let curve = try TrainingStartFlags.explained {
      try LotteryTicket.run(
        LotteryParameters(recipe: recipe, settings: settings, output: out, start: try TrainingStartFlags.start(arguments))
      ) { display.show($0) }
    }
    display.finish(curve, out: out)
  }
}

/// A lottery run's progress: a bar per training and per evaluation, a line per measured model.
final class LotteryDisplay {
  let settings: LotterySettings
  let steps: Int
  private var bar: ProgressBar?
  /// The label of the bar shown, so an evaluation gets its own after a training.
  private var label: String?

  init(settings: LotterySettings, steps: Int) {
    self.settings = settings
    self.steps = steps
  }

  func show(_ event: LotteryEvent) {
    switch event {
    case .training(let stage, let firstStep, let total, let resumedAt):
      if let resumedAt { print("\(stage): resumed at step \(resumedAt)") }
      start(label: "\(stage) (steps \(firstStep + 1)–\(total))", total: total)
    case .step(_, let progress):
      let validation = progress.validationLoss.map { String(format: " · valid %.3f", $0) } ?? ""
      bar?.update(progress.step, detail: String(format: "loss %.3f%@ · %.0f tok/s", progress.loss, validation, progress.tokensPerSecond))
    case .pruned(let round, let sparsity, let kept):
      finishBar()
      print(String(format: "round %d: %.1f%% of the target weights pruned, %@ kept", round, sparsity * 100, kept.formatted()))
    case .evaluating(let stage, let done, let total):
      if label != "evaluate \(stage)" { start(label: "evaluate \(stage)", total: total) }
      bar?.update(done)
    case .measured(let stage, let m):
      finishBar()
      print(String(format: "%@: EM %.1f · chrF %.2f · loss %.4f", stage.description, m.exactMatch * 100, m.chrF, m.loss))
    case .skipped(let round):
      print("round \(round.round): finished by the earlier run, kept")
    }
  }

  private func start(label: String, total: Int) {
    finishBar()
    self.label = label
    bar = ProgressBar(total: total, label: label)
  }

  private func finishBar() {
    bar?.finish()
    bar = nil
    label = nil
  }

  func finish(_ curve: LotteryCurve, out: URL) {
    finishBar()
    if let winner = curve.winningRound {
      let round = curve.rounds[winner]
      print(
        winner == 0
          ? "winning ticket: no pruned ticket is within 1 EM point of the dense model; saved the dense model"
          : String(format: "winning ticket: round %d, %.1f%% sparse, EM %.1f", winner, round.sparsity * 100, round.ticket.exactMatch * 100))
    }
    print("saved \(out.path) (curve.json, curve.csv, report.md, curve.svg, winning-ticket/)")
  }
}
