import Foundation
import JSONFormat
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// Lottery tickets by iterative magnitude pruning with weight rewinding
/// (Frankle & Carbin 2019; Frankle et al. 2020): the recipe's teacher is
/// trained (`dense/`, its weights at the rewind step kept in `rewind/`);
/// each round removes `rate` of the still-kept attention and feed-forward
/// weights of the last trained model by magnitude (`round-N/mask.safetensors`),
/// rewinds the survivors to their rewind-step values and retrains from that
/// step with the mask fixed (`round-N/ticket/`). The control of each round is
/// a fresh initialisation of another seed under the same mask, trained the
/// same way (`round-N/control/`). Every model is measured on the test split;
/// `curve.json` holds the curve and the sparsest ticket within one EM point of
/// the dense model is saved as `winning-ticket/`.
///
/// Every training checkpoints, and `curve.json` is rewritten after each
/// round, so `.resume` continues a killed run where it stopped and ends with
/// exactly the uninterrupted run's curve and weights.
public enum LotteryTicket {
  static let denseName = "dense", rewindName = "rewind", winnerName = "winning-ticket"
  static let maskFileName = "mask.safetensors", ticketName = "ticket", controlName = "control"

  /// `round-3`.
  static func roundName(_ round: Int) -> String { "round-\(round)" }

  /// The seed of round `round`'s control: never the recipe's, which made the ticket.
  static func controlSeed(recipe: TeacherRecipe, round: Int) -> UInt64 { recipe.training.seed &+ UInt64(round) }

  /// Runs (or resumes) every round not finished yet; returns the curve.
  @discardableResult
  public static func run(_ parameters: LotteryParameters, events: (LotteryEvent) throws -> Void = { _ in }) throws -> LotteryCurve {
    let (recipe, settings) = (parameters.recipe, parameters.settings)
    if let problem = settings.problem(steps: recipe.training.steps) {
      throw RecipeError(file: problem.flag, reason: problem.message)
    }
    let tokenizer = parameters.tokenizer
    let initial = try recipe.makeModel(tokenizer: tokenizer, seed: recipe.training.seed)
    let targetWeights = targets(of: initial).reduce(0) { $0 + $1.layer.weight.value.count }
    guard targetWeights > 0 else {
      throw RecipeError(file: recipe.modelSource, reason: "the model has no attention or feed-forward weights to prune")
    }
    let fingerprint = TeacherTraining.fingerprint(recipe: recipe, model: initial, tokenizer: tokenizer)
    let fresh = LotteryCurve(settings: settings, steps: recipe.training.steps, fingerprint: fingerprint, targetWeights: targetWeights)
    let curve = try prepare(parameters, fresh: fresh)
    return try withoutActuallyEscaping(events) { events in
      try rounds(of: Run(parameters: parameters, fingerprint: fingerprint, tokens: initial.specialTokens, events: events), curve: curve)
    }
  }

  /// The rounds `curve` does not hold yet, then the winning ticket.
  private static func rounds(of run: Run, curve: LotteryCurve) throws -> LotteryCurve {
    var curve = curve
    let (settings, output, events) = (run.parameters.settings, run.output, run.events)
    let targetWeights = curve.targetWeights

    if let dense = curve.rounds.first {
      try events(.skipped(dense))
    } else {
      let model = try run.trainDense()
      curve.rounds.append(LotteryRound(
        round: 0, sparsity: 0, keptWeights: targetWeights, ticket: try run.measure(model, stage: .dense, state: nil), control: nil))
      try curve.write(to: output)
    }
    var masks: [String: WeightMask] = [:]
    for round in 1...settings.rounds {
      masks = try run.masks(round: round, previous: masks)
      if round < curve.rounds.count {
        try events(.skipped(curve.rounds[round]))
        continue
      }
      let kept = masks.values.reduce(0) { $0 + $1.keptCount }
      try events(.pruned(round: round, sparsity: 1 - Double(kept) / Double(targetWeights), keptWeights: kept))
      let ticket = try run.trainMasked(.ticket(round: round), masks: masks)
      let control = try run.trainMasked(.control(round: round), masks: masks)
      curve.rounds.append(LotteryRound(
        round: round, sparsity: 1 - Double(kept) / Double(targetWeights), keptWeights: kept, ticket: ticket, control: control))
      try curve.write(to: output)
    }
    try run.saveWinner(curve)
    try curve.write(to: output)
    return curve
  }

  /// The attention and feed-forward layers of the blocks: what is pruned.
  static func targets(of model: any Seq2SeqModel) -> [(key: String, layer: Linear)] {
    LowRankCompression.targetLayers(of: model, targets: Set(CompressionTarget.allCases))
  }

  /// Claims the output and returns the curve to continue: `fresh` for a new
  /// run, the earlier run's for a resume (whose settings must match, save
  /// the number of rounds, which may grow).
  static func prepare(_ parameters: LotteryParameters, fresh: LotteryCurve) throws -> LotteryCurve {
    let output = parameters.output
    let existing = try OutputFolder.claim(output, as: .lottery, force: parameters.start == .restart)
    let isEmpty = existing == .nothing || existing == .emptyFolder
    switch parameters.start {
    case .fresh where !isEmpty:
      throw TrainingStartError(kind: .earlierRun, path: output.path, reason: "already holds a lottery run (finished or not)")
    case .resume where isEmpty:
      throw TrainingStartError(kind: .nothingToResume, path: output.path, reason: "no lottery run to resume")
    case .resume:
      var curve = try LotteryCurve.read(from: output)
      var asked = parameters.settings
      asked.rounds = curve.settings.rounds
      guard asked == curve.settings, curve.steps == fresh.steps, curve.fingerprint == fresh.fingerprint else {
        throw TrainingError(
          "\(output.path): the lottery run was started with another recipe, --steps, --rate, --rewind or --scope; "
            + "use the same ones to resume (only --rounds may change), or start over with --force")
      }
      curve.settings.rounds = parameters.settings.rounds
      curve.rounds = Array(curve.rounds.prefix(parameters.settings.rounds + 1))
      return curve
    case .restart where !isEmpty:
      // Everything here is Tessera's (the claim checked): the earlier run's rounds must not be resumed.
      for entry in try FileManager.default.contentsOfDirectory(atPath: output.path) where !entry.hasPrefix(".") {
        try FileManager.default.removeItem(at: output.appendingPathComponent(entry))
      }
    case .fresh, .restart: break
    }
    try FileAccess.createFolder(output)
    try fresh.write(to: output)
    return fresh
  }

  /// A ticket before its first step: the recipe's model with the weights
  /// saved in `rewind` (bit for bit), those `masks` removes set to zero.
  static func rewoundModel(
    recipe: TeacherRecipe, tokenizer: any TextTokenizer, rewind: URL, masks: [String: WeightMask]
  ) throws -> any Seq2SeqModel {
    let model = try recipe.makeModel(tokenizer: tokenizer, seed: recipe.training.seed)
    let weights = rewind.appendingPathComponent(CheckpointFiles.singleFileName)
    try ModelLoading.load(SafeTensorsFile.read(from: weights).tensors, into: model, source: weights.path)
    MagnitudeMasks.apply(masks, to: targets(of: model))
    return model
  }

  /// Round `round`'s control before its first step: a fresh initialisation
  /// of ``controlSeed(recipe:round:)``, those `masks` removes set to zero.
  static func reinitialisedModel(
    recipe: TeacherRecipe, tokenizer: any TextTokenizer, round: Int, masks: [String: WeightMask]
  ) throws -> any Seq2SeqModel {
    let model = try recipe.makeModel(tokenizer: tokenizer, seed: controlSeed(recipe: recipe, round: round))
    MagnitudeMasks.apply(masks, to: targets(of: model))
    return model
  }

  /// Whether `entry` of a lottery folder is one of its members (for ``OutputFolder``).
  static func isMember(_ entry: String, in folder: URL) -> Bool {
    let url = folder.appendingPathComponent(entry)
    func holds(_ kinds: Set<OutputKind>, at url: URL) -> Bool {
      switch OutputFolder.inspect(url) {
      case .emptyFolder: return true
      case .tessera(let kind): return kinds.contains(kind)
      default: return false
      }
    }
    switch entry {
    case denseName: return holds([.teacher], at: url)
    case rewindName, winnerName: return holds([.model], at: url)
    default:
      guard entry.hasPrefix("round-"), Int(entry.dropFirst(6)).map({ $0 >= 1 }) == true else { return false }
      let inner = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
        .filter { !OutputFolder.isTesseraLeftover($0) }
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else { return false }
      return inner.allSatisfy { name in
        name == maskFileName || ([ticketName, controlName].contains(name) && holds([.teacher], at: url.appendingPathComponent(name)))
      }
    }
  }
}

/// One lottery run's stages, sharing its recipe, data and output.
private final class Run {
  let parameters: LotteryParameters
  let fingerprint: String
  let tokens: SpecialTokenIDs
  let events: (LotteryEvent) throws -> Void
  /// The rounds' batches, made once (the dense run makes its own).
  private var data: TeacherTrainingData?

  init(parameters: LotteryParameters, fingerprint: String, tokens: SpecialTokenIDs, events: @escaping (LotteryEvent) throws -> Void) {
    self.parameters = parameters
    self.fingerprint = fingerprint
    self.tokens = tokens
    self.events = events
  }

  var recipe: TeacherRecipe { parameters.recipe }
  var output: URL { parameters.output }
  var rewindStep: Int { parameters.settings.rewindStep }

  func folder(_ names: String...) -> URL { names.reduce(output) { $0.appendingPathComponent($1) } }

  /// The recipe's teacher run into `dense/` (resumed when it checkpointed),
  /// saving its weights at the rewind step into `rewind/`.
  func trainDense() throws -> any Seq2SeqModel {
    let dense = folder(LotteryTicket.denseName), rewind = folder(LotteryTicket.rewindName)
    var trained: (any Seq2SeqModel)?
    func saveRewind(at step: Int) throws {
      AtomicFolder.recover(rewind)
      guard let model = trained, !FileManager.default.fileExists(atPath: rewind.appendingPathComponent(CheckpointFiles.singleFileName).path)
      else { return }
      if step > rewindStep {
        throw TrainingError(
          "\(rewind.path): the weights of step \(rewindStep) were not saved before step \(step); start over with --force")
      }
      if step == rewindStep { try ModelExport.save(model, to: rewind, tokenizer: parameters.tokenizer) }
    }
    try TeacherTraining.run(
      TeacherTrainingParameters(
        recipe: recipe, output: dense, tokenizer: parameters.tokenizer,
        start: TrainingCheckpoint.exists(at: dense) ? .resume : .fresh)
    ) { event in
      switch event {
      case .started(let model, _, _, let resumedAt):
        trained = model
        try events(.training(.dense, firstStep: 0, steps: recipe.training.steps, resumedAt: resumedAt))
        try saveRewind(at: resumedAt ?? 0)
      case .step(let progress):
        try saveRewind(at: progress.step)
        try events(.step(.dense, progress))
      }
    }
    return trained!
  }

  /// Round `round`'s masks: read back when an earlier run wrote them, else
  /// `rate` of what `previous` keeps removed from the last trained model
  /// (the dense one, or the previous round's ticket) and written.
  func masks(round: Int, previous: [String: WeightMask]) throws -> [String: WeightMask] {
    let file = folder(LotteryTicket.roundName(round), LotteryTicket.maskFileName)
    let source = round == 1 ? folder(LotteryTicket.denseName) : folder(LotteryTicket.roundName(round - 1), LotteryTicket.ticketName)
    let model = try ModelLoading.load(from: source)
    let layers = LotteryTicket.targets(of: model)
    if FileManager.default.fileExists(atPath: file.path) { return try WeightMaskFile.read(from: file, layers: layers) }
    let masks = MagnitudeMasks.masks(
      for: layers, removing: parameters.settings.rate, scope: parameters.settings.scope, current: previous)
    try FileAccess.createFolder(file.deletingLastPathComponent())
    try WeightMaskFile.write(masks, layers: layers, to: file)
    return masks
  }

  /// Trains a ticket or control from the rewind step with `masks` fixed
  /// (resuming its checkpoint when there is one) and measures it.
  func trainMasked(_ stage: LotteryStage, masks: [String: WeightMask]) throws -> LotteryMeasurement {
    let (round, name): (Int, String) =
      switch stage {
      case .ticket(let round): (round, LotteryTicket.ticketName)
      case .control(let round): (round, LotteryTicket.controlName)
      case .dense: preconditionFailure("the dense run is not masked")
      }
    let checkpoint = folder(LotteryTicket.roundName(round), name)
    let model =
      stage == .ticket(round: round)
      ? try LotteryTicket.rewoundModel(recipe: recipe, tokenizer: parameters.tokenizer, rewind: folder(LotteryTicket.rewindName), masks: masks)
      : try LotteryTicket.reinitialisedModel(recipe: recipe, tokenizer: parameters.tokenizer, round: round, masks: masks)
    let objective = try MaskedTrainingObjective(
      CrossEntropyObjective(model: model, parameters: recipe.training, tokenizer: parameters.tokenizer), masks: masks)
    let maskDigest = try SHA256.hexDigest(ofFile: folder(LotteryTicket.roundName(round), LotteryTicket.maskFileName))
    let seed = stage == .ticket(round: round) ? "rewind \(rewindStep)" : "seed \(LotteryTicket.controlSeed(recipe: recipe, round: round))"
    let data = try self.data ?? TeacherTrainingData(recipe: recipe, tokenizer: parameters.tokenizer, tokens: tokens)
    self.data = data
    let loop = data.loop(
      objective: objective, recipe: recipe, checkpointFolder: checkpoint,
      fingerprint: "\(fingerprint)|lottery \(name) from step \(rewindStep), \(seed), mask \(maskDigest)")
    let resumed = TrainingCheckpoint.exists(at: checkpoint)
    if resumed { try loop.resume() } else { try loop.start(afterStep: rewindStep) }
    try events(.training(stage, firstStep: rewindStep, steps: recipe.training.steps, resumedAt: resumed ? loop.state.step : nil))
    try loop.run { try events(.step(stage, $0)) }
    return try measure(model, stage: stage, state: loop.state)
  }

  /// Test-split EM, chrF and teacher-forced loss, as `tessera evaluate` measures them.
  func measure(_ model: any Seq2SeqModel, stage: LotteryStage, state: TrainerState?) throws -> LotteryMeasurement {
    let examples = try recipe.data.examples(.test)
    guard !examples.isEmpty else {
      throw RecipeError(file: recipe.data.displayName, reason: "the test split has no examples to measure on")
    }
    let (result, _) = try ModelEvaluation.run(
      model: model, tokenizer: parameters.tokenizer, examples: examples, modelName: stage.description
    ) { done in try? events(.evaluating(stage, done: done, total: examples.count)) }
    let state = try state ?? TrainingCheckpoint.readState(at: folder(LotteryTicket.denseName))
    let measurement = LotteryMeasurement(
      exactMatch: result.metric("EM") ?? 0, chrF: result.metric("chrF") ?? 0, loss: result.loss,
      steps: state.step - (state.firstStep ?? 0), seconds: state.seconds)
    try events(.measured(stage, measurement))
    return measurement
  }

  /// `winning-ticket/`: the winning round's trained weights, its pruned layers
  /// stored sparse (as `tessera prune` stores them), with its provenance.
  func saveWinner(_ curve: LotteryCurve) throws {
    guard let winner = curve.winningRound else { return }
    let dense = folder(LotteryTicket.denseName)
    let source = winner == 0 ? dense : folder(LotteryTicket.roundName(winner), LotteryTicket.ticketName)
    let model = try ModelLoading.load(from: source)
    if winner > 0 { for (_, layer) in LotteryTicket.targets(of: model) { layer.storesSparse = true } }
    let round = curve.rounds[winner]
    let settings = parameters.settings
    try ModelExport.save(
      model, to: folder(LotteryTicket.winnerName), tokenizer: parameters.tokenizer,
      configSections: [(TransformChain.sectionKey, try TransformChain.extended(from: dense, stage: "lottery", settings: [
        ("round", .number(Double(winner))), ("sparsity", .number(round.sparsity)), ("rate", .number(settings.rate)),
        ("rewind_step", .number(Double(settings.rewindStep))), ("scope", .string(settings.scope.rawValue)),
        ("steps", .number(Double(curve.steps))), ("exact_match", .number(round.ticket.exactMatch)),
      ]))])
  }
}
