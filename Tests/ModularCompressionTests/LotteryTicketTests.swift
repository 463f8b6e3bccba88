import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

@testable import ModularCompression

/// Lottery tickets: masked training, exact rewinding, the rounds' sparsity and the control, at tiny sizes.
final class LotteryTicketTests: TinyPipelineTestCase {
  /// The tiny teacher recipe for `steps` steps, checkpointing every 2.
  private func recipe(steps: Int) -> TeacherRecipe {
    var recipe = tinyTeacherRecipe
    recipe.model["num_layers"] = .number(2)
    recipe.model["num_decoder_layers"] = .number(2)
    recipe.training.steps = steps
    recipe.training.checkpointEvery = 2
    recipe.training.validateEvery = 2
    return recipe
  }

  private func run(_ settings: LotterySettings, steps: Int, out: String = "lottery") throws -> (curve: LotteryCurve, folder: URL) {
    let output = folder.appendingPathComponent(out)
    let curve = try LotteryTicket.run(LotteryParameters(recipe: recipe(steps: steps), settings: settings, output: output))
    return (curve, output)
  }

  private func weights(_ folder: URL) throws -> [String: Tensor] {
    try SafeTensorsFile.read(from: folder.appendingPathComponent("model.safetensors")).tensors
  }

  private func masks(_ output: URL, round: Int, model: any Seq2SeqModel) throws -> [String: WeightMask] {
    try WeightMaskFile.read(
      from: output.appendingPathComponent("round-\(round)/mask.safetensors"), layers: LotteryTicket.targets(of: model))
  }

  /// Removed weights stay exactly zero through AdamW steps with weight
  /// decay, and so do the optimizer's moments for them; the same start trained
  /// without the mask moves them, so the check can fail.
  func testMaskedWeightsStayZeroUnderAdamWWithWeightDecay() throws {
    var training = recipe(steps: 6)
    training.training.weightDecay = 0.5
    training.training.learningRate = 0.05
    let tokenizer = ByteTokenizer()
    func train(masked: Bool) throws -> (model: any Seq2SeqModel, masks: [String: WeightMask], optimizer: [String: Tensor]) {
      let model = try training.makeModel(tokenizer: tokenizer, seed: 3)
      let layers = LotteryTicket.targets(of: model)
      let masks = MagnitudeMasks.masks(for: layers, removing: 0.5, scope: .layer)
      MagnitudeMasks.apply(masks, to: layers)
      let base = CrossEntropyObjective(model: model, parameters: training.training)
      let objective: any TrainingObjective = masked ? try MaskedTrainingObjective(base, masks: masks) : base
      let data = try TeacherTrainingData(recipe: training, tokenizer: tokenizer, tokens: model.specialTokens)
      let loop = data.loop(objective: objective, recipe: training, checkpointFolder: nil, fingerprint: "test")
      try loop.run { _ in
        guard masked else { return }
        for (key, linear) in layers {
          let values = linear.weight.value.scalars
          let removed = masks[key]!.kept.indices.filter { !masks[key]!.kept[$0] }
          XCTAssertTrue(removed.allSatisfy { values[$0] == 0 }, "\(key) revived after a step")
        }
      }
      return (model, masks, loop.optimizer.state())
    }
    let (model, masks, optimizer) = try train(masked: true)
    var moved = 0
    for (key, linear) in LotteryTicket.targets(of: model) {
      let kept = masks[key]!.kept
      let values = linear.weight.value.scalars
      XCTAssertEqual(values.indices.filter { values[$0] == 0 }.count, kept.filter { !$0 }.count, key)
      for moment in ["m.", "v."] {
        let m = try XCTUnwrap(optimizer[moment + key + ".weight"], "\(moment)\(key)").scalars
        XCTAssertTrue(kept.indices.allSatisfy { kept[$0] || m[$0] == 0 }, "\(moment)\(key) is non-zero at a removed weight")
      }
      moved += kept.indices.filter { kept[$0] && values[$0] != 0 }.count
    }
    XCTAssertGreaterThan(moved, 0)
    let (free, freeMasks, _) = try train(masked: false)
    let revived = LotteryTicket.targets(of: free).map { key, linear in
      let values = linear.weight.value.scalars
      return freeMasks[key]!.kept.indices.filter { !freeMasks[key]!.kept[$0] && values[$0] != 0 }.count
    }.reduce(0, +)
    XCTAssertGreaterThan(revived, 0, "without the mask the removed weights move: the check above can fail")
  }

  /// The rewind folder holds the dense run's weights at the rewind step (an
  /// independent run of the same recipe, read at that step, matches bit for
  /// bit); a rewound ticket keeps exactly those values where its mask keeps
  /// weights and zero elsewhere; each round trains from the rewind step;
  /// masks nest and sparsity after r rounds is 1 − (1 − rate)^r.
  func testRewindingIsExactAndSparsityCompounds() throws {
    let settings = LotterySettings(rounds: 3, rate: 0.2, rewindStep: 2, scope: .global)
    let (curve, output) = try run(settings, steps: 6)
    XCTAssertEqual(OutputFolder.inspect(output), .tessera(.lottery))

    let again = folder.appendingPathComponent("again"), atRewind = folder.appendingPathComponent("at-rewind")
    var dense: (any Seq2SeqModel)?
    try TeacherTraining.run(TeacherTrainingParameters(recipe: recipe(steps: 6), output: again)) { event in
      switch event {
      case .started(let model, _, _, _): dense = model
      case .step(let progress): if progress.step == 2 { try ModelExport.save(dense!, to: atRewind, tokenizer: ByteTokenizer()) }
      }
    }
    let file = "model.safetensors"
    XCTAssertEqual(
      try Data(contentsOf: output.appendingPathComponent("rewind/\(file)")), try Data(contentsOf: atRewind.appendingPathComponent(file)),
      "the rewind weights are the dense run's at step 2, bit for bit")
    XCTAssertEqual(
      try Data(contentsOf: output.appendingPathComponent("dense/\(file)")), try Data(contentsOf: again.appendingPathComponent(file)))
    XCTAssertNotEqual(
      try Data(contentsOf: output.appendingPathComponent("rewind/\(file)")), try Data(contentsOf: again.appendingPathComponent(file)))
    let rewind = try ModelLoading.load(from: output.appendingPathComponent("rewind")).stateDictionary()

    let structure = try ModelLoading.load(from: output.appendingPathComponent("dense"))
    var previous: [String: WeightMask]?
    for round in 1...3 {
      let masks = try masks(output, round: round, model: structure)
      let ticket = try LotteryTicket.rewoundModel(
        recipe: recipe(steps: 6), tokenizer: ByteTokenizer(), rewind: output.appendingPathComponent("rewind"), masks: masks)
      let targets = Set(LotteryTicket.targets(of: ticket).map { $0.key + ".weight" })
      for (key, value) in ticket.stateDictionary() {
        let saved = try XCTUnwrap(rewind[key]).scalars, values = value.scalars
        guard targets.contains(key) else {
          XCTAssertTrue(values.map(\.bitPattern) == saved.map(\.bitPattern), "\(key) is not pruned and rewinds whole")
          continue
        }
        let kept = masks[String(key.dropLast(".weight".count))]!.kept
        let expected = values.indices.map { kept[$0] ? saved[$0].bitPattern : Float(0).bitPattern }
        XCTAssertTrue(values.map(\.bitPattern) == expected, "\(key): kept weights rewound bit for bit, removed ones zero")
      }
      // Trained from the rewind step with the mask held.
      let checkpoint = output.appendingPathComponent("round-\(round)/ticket")
      let state = try TrainingCheckpoint.readState(at: checkpoint)
      XCTAssertEqual(state.firstStep, 2)
      XCTAssertEqual(state.losses.count, 4)
      let trained = try weights(checkpoint)
      for (key, mask) in masks {
        let values = try XCTUnwrap(trained[key + ".weight"]).scalars
        XCTAssertTrue(mask.kept.indices.allSatisfy { mask.kept[$0] || values[$0] == 0 }, "round \(round) \(key)")
      }
      if let previous {
        for (key, mask) in masks { XCTAssertTrue(mask.kept.indices.allSatisfy { !mask.kept[$0] || previous[key]!.kept[$0] }, key) }
      }
      previous = masks
      let expected = 1 - pow(0.8, Double(round))
      XCTAssertEqual(curve.rounds[round].sparsity, expected, accuracy: Double(round) / Double(curve.targetWeights), "round \(round)")
      XCTAssertEqual(curve.rounds[round].ticket.steps, 4)
      XCTAssertEqual(curve.rounds[round].control?.steps, 4)
    }
    XCTAssertEqual(curve.rounds.count, 4)
    XCTAssertEqual(try LotteryCurve.read(from: output), curve)
    let winner = try XCTUnwrap(curve.winningRound)
    XCTAssertGreaterThanOrEqual(curve.rounds[winner].ticket.exactMatch, curve.rounds[0].ticket.exactMatch - 0.01)
    let csv = try String(contentsOf: output.appendingPathComponent("curve.csv"), encoding: .utf8)
    XCTAssertEqual(csv.split(separator: "\n").count, 5)
    XCTAssertTrue(try String(contentsOf: output.appendingPathComponent("curve.svg"), encoding: .utf8).contains("control (random re-init)"))
    let stages = try TransformChain.stages(in: output.appendingPathComponent("winning-ticket"))
    XCTAssertEqual(stages.count, 1)
    // A pruned winner is stored sparse and loads back as its round's ticket.
    let ticket = try ModelLoading.load(from: output.appendingPathComponent("winning-ticket"))
    XCTAssertEqual(SparseWeightStorage.sparseLayers(of: ticket).isEmpty, winner == 0)
    let source = winner == 0 ? "dense" : "round-\(winner)/ticket"
    let trained = try ModelLoading.load(from: output.appendingPathComponent(source)).stateDictionary()
    XCTAssertEqual(Set(ticket.stateDictionary().keys), Set(trained.keys))
    for (key, tensor) in ticket.stateDictionary() { XCTAssertEqual(tensor.scalars, trained[key]?.scalars, key) }
  }

  /// A round's control starts from another initialisation under the same
  /// mask: zero exactly where the ticket is, different everywhere else, and
  /// not the recipe's initialisation either.
  func testControlUsesTheSameMaskButAnotherInitialisation() throws {
    let (curve, output) = try run(LotterySettings(rounds: 2, rate: 0.3, rewindStep: 0, scope: .layer), steps: 4)
    XCTAssertNotNil(curve.rounds[2].control)
    let recipe = recipe(steps: 4)
    let initial = try recipe.makeModel(tokenizer: ByteTokenizer(), seed: recipe.training.seed).stateDictionary()
    for round in 1...2 {
      let masks = try masks(output, round: round, model: try ModelLoading.load(from: output.appendingPathComponent("dense")))
      let ticket = try LotteryTicket.rewoundModel(
        recipe: recipe, tokenizer: ByteTokenizer(), rewind: output.appendingPathComponent("rewind"), masks: masks)
      let control = try LotteryTicket.reinitialisedModel(recipe: recipe, tokenizer: ByteTokenizer(), round: round, masks: masks)
      let controlWeights = control.stateDictionary()
      for (key, linear) in LotteryTicket.targets(of: ticket) {
        let kept = masks[key]!.kept
        let a = linear.weight.value.scalars, b = try XCTUnwrap(controlWeights[key + ".weight"]).scalars
        XCTAssertEqual(a.map { $0 == 0 }, kept.map { !$0 }, "ticket \(key)")
        XCTAssertEqual(b.map { $0 == 0 }, kept.map { !$0 }, "control \(key)")
        XCTAssertTrue(kept.indices.allSatisfy { !kept[$0] || a[$0] != b[$0] }, "control \(key) shares a kept weight's start")
        XCTAssertNotEqual(b, initial[key + ".weight"]?.scalars)
      }
      // Per-layer scope: each layer loses the same share.
      for (key, mask) in masks {
        XCTAssertEqual(Double(mask.keptCount) / Double(mask.kept.count), pow(0.7, Double(round)), accuracy: 2.0 / Double(mask.kept.count), key)
      }
      let trained = try weights(output.appendingPathComponent("round-\(round)/control"))
      for (key, mask) in masks {
        let values = try XCTUnwrap(trained[key + ".weight"]).scalars
        XCTAssertTrue(mask.kept.indices.allSatisfy { mask.kept[$0] || values[$0] == 0 }, "trained control \(key)")
      }
    }
  }

  /// Refusals: bad settings name their flag, a fresh run over an earlier one
  /// or a resume with other settings is refused, a foreign file keeps the
  /// folder from being claimed, and a larger --rounds on resume adds rounds.
  func testRefusalsAndResumeRules() throws {
    for (settings, flag) in [
      (LotterySettings(rounds: 0), "--rounds"), (LotterySettings(rate: 1), "--rate"), (LotterySettings(rate: .nan), "--rate"),
      (LotterySettings(rewindStep: -1), "--rewind"), (LotterySettings(rewindStep: 4), "--rewind"),
    ] {
      XCTAssertEqual(settings.problem(steps: 4)?.flag, flag, "\(settings)")
    }
    XCTAssertNil(LotterySettings(rewindStep: 3).problem(steps: 4))
    let settings = LotterySettings(rounds: 1, rate: 0.5, rewindStep: 1, scope: .global)
    let (first, output) = try run(settings, steps: 3)
    XCTAssertEqual(first.rounds.count, 2)
    XCTAssertThrowsError(try run(settings, steps: 3)) { error in
      XCTAssertEqual((error as? TrainingStartError)?.kind, .earlierRun, "\(error)")
    }
    var other = settings
    other.rate = 0.4
    XCTAssertThrowsError(
      try LotteryTicket.run(LotteryParameters(recipe: recipe(steps: 3), settings: other, output: output, start: .resume))
    ) { error in XCTAssertTrue("\(error)".contains("only --rounds may change"), "\(error)") }
    var more = settings
    more.rounds = 2
    var events: [String] = []
    let extended = try LotteryTicket.run(LotteryParameters(recipe: recipe(steps: 3), settings: more, output: output, start: .resume)) {
      if case .skipped(let round) = $0 { events.append("skipped \(round.round)") }
      if case .training(let stage, _, _, _) = $0 { events.append("\(stage)") }
    }
    XCTAssertEqual(events, ["skipped 0", "skipped 1", "round 2 ticket", "round 2 control"])
    XCTAssertEqual(Array(extended.rounds.prefix(2)), first.rounds)
    XCTAssertEqual(extended.rounds.count, 3)
    try Data("mine".utf8).write(to: output.appendingPathComponent("notes.txt"))
    XCTAssertThrowsError(
      try LotteryTicket.run(LotteryParameters(recipe: recipe(steps: 3), settings: more, output: output, start: .restart))
    ) { error in XCTAssertTrue(error is OutputFolderError, "\(error)") }
    XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent("curve.json").path))
  }
}
