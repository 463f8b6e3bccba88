import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// What one baseline training run is asked to do.
public struct BaselineTrainingParameters {
  public var teacherFolder: URL
  /// Method, ratio, strategy (`baseline`), training settings and data.
  public var recipe: BaselineRecipe
  /// The student's model folder, which is also the run's checkpoint.
  public var output: URL
  public var start: TrainingStart
  /// pseudo-labels: the cache file; nil keeps it in `output` (a sweep shares one).
  public var pseudoLabelCache: URL?
  /// polish: the assembled model folder it starts from (``PolishStart``).
  public var startModel: URL?
  public var communicator: any Communicator

  public init(
    teacherFolder: URL, recipe: BaselineRecipe, output: URL, start: TrainingStart = .fresh, pseudoLabelCache: URL? = nil,
    startModel: URL? = nil, communicator: any Communicator = SingleProcessCommunicator()
  ) {
    self.teacherFolder = teacherFolder
    self.recipe = recipe
    self.output = output
    self.start = start
    self.pseudoLabelCache = pseudoLabelCache
    self.startModel = startModel
    self.communicator = communicator
  }
}

/// What a baseline run reports as it goes.
public enum BaselineTrainingEvent {
  /// Before the first step: the student (theseus: the teacher whose modules
  /// are trained), its kept layers (nil for theseus), data size and the step resumed at.
  case started(model: any Seq2SeqModel, layerMap: (encoder: [Int], decoder: [Int])?, trainExamples: Int, resumedAt: Int?)
  /// pseudo-labels: `done` of `total` sources labelled by the teacher.
  case labelling(done: Int, total: Int)
  /// pseudo-labels ready: how many, whether from the cache, and what making them cost.
  case labelled(count: Int, cached: Bool, seconds: Double)
  case step(TrainingProgress)
  /// theseus: its module run's other events (registered, …).
  case modules(ModuleTrainingEvent)
  /// `baseline.json` is written: the run is complete.
  case finished(BaselineRecord)
}

/// One per-ratio baseline student trained into a model folder with
/// `baseline.json`, the rival of one modules run at one ratio.
///
/// The student's depths are ``StudentShape``'s for the teacher at the
/// recipe's ratio and strategy — the rule layer dropping follows too. scratch
/// starts from random weights of that shape; sft, kd and pseudo-labels from
/// the teacher's kept layers (``LayerDropping``). theseus trains modules of
/// one granularity and assembles them (``TheseusBaseline``). polish is not a
/// rival but a stage on top of the modules: it starts from an assembled model
/// (``PolishStart``, its ratio the assembly's) and trains it with kd's loss,
/// each layer held against the teacher layer ending its span. Checkpoints,
/// resume and restart are those of ``TeacherTraining``: the folder is the
/// checkpoint, and `baseline.json` is written last, so a folder without it is
/// an unfinished run.
public enum BaselineTraining {
  /// Every baseline objective's kind starts so; a checkpoint of one is recognised as a baseline folder.
  public static let objectivePrefix = "baseline-"
  /// The registry subfolder of a theseus baseline (not `registry`, which marks a demo output).
  public static let theseusRegistryName = "modules"

  /// Trains (or resumes) the baseline; returns its record (under mpirun, on the first process only: the others return nil).
  @discardableResult
  public static func run(
    _ parameters: BaselineTrainingParameters, events: (BaselineTrainingEvent) throws -> Void = { _ in }
  ) throws -> BaselineRecord? {
    let recipe = parameters.recipe, settings = recipe.baseline, output = parameters.output
    try checkRecipe(recipe)
    let communicator = parameters.communicator
    // The first process alone checks and writes the output; under mpirun the others train beside it.
    try communicator.leaderRuns {
      try OutputFolder.claim(
        output, as: .baseline, force: parameters.start == .restart,
        reading: [parameters.teacherFolder] + (parameters.startModel.map { [$0] } ?? []))
      if parameters.start == .restart { try removeRecord(in: output) }
    }
    let teacher = try ModelLoading.load(from: parameters.teacherFolder)
    let tokenizer = try loadTokenizer(from: parameters.teacherFolder, fitting: teacher)
    let teacherFingerprint = try TeacherFingerprint.of(modelFolder: parameters.teacherFolder)
    let polish =
      settings.method == .polish
      ? try PolishStart.load(parameters.startModel, teacher: teacher, teacherFingerprint: teacherFingerprint) : nil
    if settings.method == .theseus {
      return try TheseusBaseline.run(
        parameters, teacher: teacher, tokenizer: tokenizer, teacherFingerprint: teacherFingerprint, events: events)
    }
    let resume = try communicator.leaderDecides { try TrainingOutput.prepare(output, start: parameters.start, what: "baseline") }
    let costs = LayerCosts(teacher: teacher)
    let student: any Seq2SeqModel, layerMap: (encoder: [Int], decoder: [Int])
    if let polish {
      (student, layerMap) = (polish.model, polish.layerMap)
    } else {
      let plan = try StudentShape.plan(costs: costs, ratio: settings.ratio, strategy: settings.strategy)
      layerMap = StudentShape.layerMap(of: plan)
      student = try makeStudent(settings.method, plan: plan, teacher: teacher, seed: recipe.training.seed)
    }

    var train = TokenizedExamples(try recipe.data.examples(.train), tokenizer: tokenizer)
    let valid = TokenizedExamples(try recipe.data.examples(.valid), tokenizer: tokenizer)
    var labelSeconds: Double = 0
    var keptFiles: [String: Data] = [:]
    if settings.method == .pseudoLabels {
      if let cap = settings.labelExamples, cap < train.count {
        train = TokenizedExamples(Array(train.examples.prefix(cap)), tokenizer: tokenizer)
      }
      let ownCache = parameters.pseudoLabelCache == nil
      let cache = parameters.pseudoLabelCache ?? output.appendingPathComponent(PseudoLabels.fileName)
      let total = train.count
      let labels = try PseudoLabels.labels(
        cache: cache, teacher: teacher, teacherFingerprint: teacherFingerprint, sources: train.sources,
        maxNewTokens: (train.targets.map(\.count).max() ?? 1) + 8, writeCache: !ownCache && communicator.isLeader
      ) { try events(.labelling(done: $0, total: total)) }
      try events(.labelled(count: labels.targets.count, cached: labels.wasCached, seconds: labels.seconds))
      train.targets = labels.targets
      // A shared cache made by an earlier member is counted once, by that member.
      labelSeconds = ownCache || !labels.wasCached ? labels.seconds : 0
      if ownCache { keptFiles[PseudoLabels.fileName] = labels.fileData }
    }

    let tokens = student.specialTokens
    let distillation =
      settings.method == .kd || settings.method == .polish
      ? StudentDistillation(teacher: teacher, layerMap: layerMap, temperature: settings.temperature, weights: settings.weights)
      : nil
    let objective = StudentObjective(
      student: CrossEntropyObjective(model: student, parameters: recipe.training, tokenizer: tokenizer),
      method: settings.method, distillation: distillation, keptFiles: keptFiles)
    let loop = TrainingLoop(
      objective: objective, settings: recipe.training.loopSettings,
      schedule: try TokenBudgetSchedule(train, tokenBudget: recipe.data.batchTokens, seed: recipe.data.seed, tokens: tokens),
      validation: valid.orderedBatches(tokenBudget: recipe.data.batchTokens, tokens: tokens), checkpointFolder: output,
      fingerprint: [
        recipe.training.fingerprint, settings.fingerprint, teacherFingerprint, stableJSONText(recipe.data),
        PseudoLabels.dataFingerprint(sources: train.targets), polish?.fingerprint ?? "",
      ].joined(separator: "|"),
      communicator: parameters.communicator)
    if resume { try loop.resume() }
    try events(.started(model: student, layerMap: layerMap, trainExamples: train.count, resumedAt: resume ? loop.state.step : nil))
    try loop.run { try events(.step($0)) }
    guard communicator.isLeader else { return nil }

    // A polished model's layers are modules, not copies of one teacher layer each.
    let isCopy = settings.method != .scratch && polish == nil
    let record = BaselineRecord(
      method: settings.method, requestedRatio: polish?.ratio ?? settings.ratio,
      layerParameterRatio: costs.cost(ofModel: student).layerParameterRatio, strategy: settings.strategy,
      encoderLayers: student.encoder.depth, decoderLayers: student.decoder.depth,
      encoderLayerMap: isCopy ? layerMap.encoder : nil, decoderLayerMap: isCopy ? layerMap.decoder : nil,
      steps: loop.state.step, tokens: loop.state.tokens, seconds: loop.state.seconds, labelSeconds: labelSeconds,
      teacherFingerprint: teacherFingerprint, data: dataDescription(recipe.data), startPlan: polish?.report.plan.summary)
    try record.write(to: output)
    try events(.finished(record))
    return record
  }

  /// The student a method starts from: the kept teacher layers (sft, kd,
  /// pseudo-labels), or random weights of that shape drawn from `seed`
  /// (scratch; its configuration is the teacher's with the student's depths).
  public static func makeStudent(
    _ method: BaselineMethod, plan: AssemblyPlan, teacher: any Seq2SeqModel, seed: UInt64
  ) throws -> any Seq2SeqModel {
    let kept = try LayerDropping.apply(plan, to: teacher)
    guard method == .scratch else { return kept }
    return try ModelLoading.makeModel(configuration: kept.configurationJSON(), source: "student configuration", seed: seed)
  }

  /// The recipe's settings checked together, naming the field.
  static func checkRecipe(_ recipe: BaselineRecipe) throws {
    if let problem = recipe.baseline.validationProblem() {
      throw RecipeError(file: "baseline settings", reason: "field 'baseline.\(problem.key)': \(problem.message)")
    }
    if let problem = recipe.training.validationProblem() {
      throw RecipeError(file: "baseline settings", reason: "field 'training.\(problem.key)': \(problem.message)")
    }
    if let problem = recipe.data.validationProblem() {
      throw RecipeError(file: "baseline settings", reason: "field 'data.\(problem.key)': \(problem.message)")
    }
  }

  /// A restart first removes the finished mark, so that a restart killed
  /// before its first checkpoint is not taken for a finished run.
  static func removeRecord(in folder: URL) throws {
    let url = folder.appendingPathComponent(BaselineRecord.fileName)
    if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
  }

  /// `task dates` or `file train.tsv`, for `baseline.json`.
  static func dataDescription(_ data: DatasetSpec) -> String {
    data.task.map { "task \($0)" } ?? "file \(data.displayName)"
  }
}
