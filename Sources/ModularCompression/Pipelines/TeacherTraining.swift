import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// What a teacher training run is asked to do.
public struct TeacherTrainingParameters {
  public var recipe: TeacherRecipe
  /// The model folder, which is also the run's checkpoint.
  public var output: URL
  public var tokenizer: any TextTokenizer
  public var start: TrainingStart
  public var communicator: any Communicator

  public init(
    recipe: TeacherRecipe = TeacherRecipe(), output: URL, tokenizer: any TextTokenizer = ByteTokenizer(),
    start: TrainingStart = .fresh, communicator: any Communicator = SingleProcessCommunicator()
  ) {
    self.recipe = recipe
    self.output = output
    self.tokenizer = tokenizer
    self.start = start
    self.communicator = communicator
  }
}

/// What a teacher run reports as it goes.
public enum TeacherTrainingEvent {
  /// Before the first step: the model, the data sizes and, when resumed, the step it resumed at.
  case started(model: any Seq2SeqModel, trainExamples: Int, validExamples: Int, resumedAt: Int?)
  case step(TrainingProgress)
}

/// Teacher training: a model from a recipe trained with cross-entropy into a
/// model folder that checkpoints as it goes.
public enum TeacherTraining {
  /// Trains (or resumes) the teacher; returns the final trainer state.
  ///
  /// A fresh run is refused over an earlier run (`.resume` continues it,
  /// `.restart` starts over); any output holding files Tessera did not write
  /// is refused whatever `start` says. Resuming is refused when the settings,
  /// model, tokenizer or data differ from the checkpoint's.
  @discardableResult
  public static func run(
    _ parameters: TeacherTrainingParameters, events: (TeacherTrainingEvent) throws -> Void = { _ in }
  ) throws -> TrainerState {
    let recipe = parameters.recipe
    // The first process alone checks and claims the output; under mpirun the others follow its answer.
    let resume = try parameters.communicator.leaderDecides {
      try OutputFolder.claim(parameters.output, as: .teacher, force: parameters.start == .restart)
      return try TrainingOutput.prepare(parameters.output, start: parameters.start, what: "teacher")
    }
    let tokenizer = parameters.tokenizer
    let model = try recipe.makeModel(tokenizer: tokenizer, seed: recipe.training.seed)
    let data = try TeacherTrainingData(recipe: recipe, tokenizer: tokenizer, tokens: model.specialTokens)
    let loop = data.loop(
      objective: CrossEntropyObjective(model: model, parameters: recipe.training, tokenizer: tokenizer), recipe: recipe,
      checkpointFolder: parameters.output, fingerprint: fingerprint(recipe: recipe, model: model, tokenizer: tokenizer),
      communicator: parameters.communicator)
    if resume { try loop.resume() }
    try events(.started(
      model: model, trainExamples: data.trainExamples, validExamples: data.validExamples, resumedAt: resume ? loop.state.step : nil))
    try loop.run { try events(.step($0)) }
    return loop.state
  }

  /// Everything that changes the losses: training settings, the model's configuration, tokenizer and data.
  static func fingerprint(recipe: TeacherRecipe, model: any Seq2SeqModel, tokenizer: any TextTokenizer) -> String {
    let configuration = (try? model.configurationJSON()).map { String(decoding: $0, as: UTF8.self) } ?? model.modelType
    return [
      recipe.training.fingerprint, configuration, "\(type(of: tokenizer)) \(tokenizer.vocabularySize)",
      stableJSONText(recipe.data),
    ].joined(separator: "|")
  }
}

/// A recipe's training and validation data, tokenized and batched as teacher
/// runs use it, so that every run of one recipe (a lottery's rounds) trains on the same batches.
struct TeacherTrainingData {
  let trainExamples: Int
  let validExamples: Int
  let schedule: TokenBudgetSchedule
  let validation: [Seq2SeqBatch]

  init(recipe: TeacherRecipe, tokenizer: any TextTokenizer, tokens: SpecialTokenIDs) throws {
    let train = TokenizedExamples(try recipe.data.examples(.train), tokenizer: tokenizer)
    let valid = TokenizedExamples(try recipe.data.examples(.valid), tokenizer: tokenizer)
    trainExamples = train.count
    validExamples = valid.count
    schedule = try TokenBudgetSchedule(train, tokenBudget: recipe.data.batchTokens, seed: recipe.data.seed, tokens: tokens)
    validation = valid.orderedBatches(tokenBudget: recipe.data.batchTokens, tokens: tokens)
  }

  /// The loop of a teacher run of `recipe` training `objective`.
  func loop(
    objective: any TrainingObjective, recipe: TeacherRecipe, checkpointFolder: URL?, fingerprint: String,
    communicator: any Communicator = SingleProcessCommunicator()
  ) -> TrainingLoop {
    TrainingLoop(
      objective: objective, settings: recipe.training.loopSettings, schedule: schedule, validation: validation,
      checkpointFolder: checkpointFolder, fingerprint: fingerprint, communicator: communicator)
  }
}
