import Foundation
import Seq2SeqModels
import TensorCore

/// Weights of a kd baseline's loss terms: `w_ce·CE + w_kl·T²·KL + w_hidden·hidden`.
/// (Module distillation's weights also hold attention, which a student whose
/// layers stand for whole spans does not distil.)
public struct StudentDistillationWeights: Codable, Sendable, Equatable {
  public var crossEntropy: Float = 1
  public var logits: Float = 1
  /// Relative MSE of each student layer's output against the teacher's after the layer it maps to.
  public var hidden: Float = 1

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case crossEntropy = "cross_entropy", logits, hidden
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = StudentDistillationWeights()
    crossEntropy = try c.decodeIfPresent(Float.self, forKey: .crossEntropy) ?? d.crossEntropy
    logits = try c.decodeIfPresent(Float.self, forKey: .logits) ?? d.logits
    hidden = try c.decodeIfPresent(Float.self, forKey: .hidden) ?? d.hidden
    for (key, value) in [(CodingKeys.crossEntropy, crossEntropy), (.logits, logits), (.hidden, hidden)]
    where !(value >= 0 && value.isFinite) {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be a non-negative number, got \(value)")
    }
    if let problem = validationProblem() {
      throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: problem))
    }
  }

  /// Why these weights train nothing, if they do not.
  public func validationProblem() -> String? {
    let all = [crossEntropy, logits, hidden]
    if let bad = all.first(where: { !($0 >= 0 && $0.isFinite) }) { return "each weight must be a non-negative number, got \(bad)" }
    return all.contains { $0 > 0 } ? nil : "at least one loss weight must be positive"
  }
}

/// What makes one baseline student besides its training settings: the
/// method, the ratio and the depth rule, and kd's temperature and weights.
/// The `baseline` part of a baselines recipe (snake_case keys, unknown ones refused).
public struct BaselineSettings: Codable, Sendable, Equatable {
  public var method = BaselineMethod.sft
  public var ratio: Double = 2
  /// `size-first` or `speed-first` (``StudentShape``).
  public var strategy = AssemblyStrategy.sizeFirst
  /// kd's softmax temperature.
  public var temperature: Float = 2
  public var weights = StudentDistillationWeights()
  /// pseudo-labels: how many training sources the teacher labels (the first
  /// ones); nil labels them all. A run with fewer trains only on those.
  public var labelExamples: Int?

  public init(method: BaselineMethod = .sft, ratio: Double = 2, strategy: AssemblyStrategy = .sizeFirst) {
    self.method = method
    self.ratio = ratio
    self.strategy = strategy
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case method, ratio, strategy, temperature, weights, labelExamples = "label_examples"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = BaselineSettings()
    method = try c.decodeIfPresent(BaselineMethod.self, forKey: .method) ?? d.method
    ratio = try c.decodeIfPresent(Double.self, forKey: .ratio) ?? d.ratio
    strategy = try c.decodeIfPresent(AssemblyStrategy.self, forKey: .strategy) ?? d.strategy
    temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
    weights = try c.decodeIfPresent(StudentDistillationWeights.self, forKey: .weights) ?? d.weights
    labelExamples = try c.decodeIfPresent(Int.self, forKey: .labelExamples)
    if let problem = validationProblem() {
      let key = CodingKeys(stringValue: problem.key) ?? .method
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: problem.message)
    }
  }

  /// The first invalid field (its recipe key) and why, if any.
  public func validationProblem() -> (key: String, message: String)? {
    if !(ratio.isFinite && ratio >= 1) { return ("ratio", "must be a finite number ≥ 1, got \(ratio)") }
    if strategy == .pareto { return ("strategy", "a student's depths follow size-first or speed-first, not pareto") }
    if !(temperature > 0 && temperature.isFinite) { return ("temperature", "must be a positive finite number, got \(temperature)") }
    if let problem = weights.validationProblem() { return ("weights", problem) }
    if let count = labelExamples, count < 1 { return ("label_examples", "must be at least 1, got \(count)") }
    return nil
  }

  /// The text of what changes the losses (resume must match it).
  var fingerprint: String { stableJSONText(self) }
}

/// A baselines recipe: the student's settings, the `training` settings of a
/// teacher recipe and the data.
///
/// ```json
/// {"baseline": {"temperature": 2, "weights": {"cross_entropy": 1, "logits": 1, "hidden": 1}},
///  "training": {"steps": 1200, "learning_rate": 0.001, …},
///  "data": {"task": "dates", "batch_tokens": 2048}}
/// ```
public struct BaselineRecipe: Sendable, Equatable {
  public var baseline = BaselineSettings()
  /// A default modules run's steps, so that a student gets as many as the
  /// one run behind every ratio.
  public var training: TrainingParameters = {
    var training = TrainingParameters()
    training.steps = ModuleTrainingSettings().steps
    return training
  }()
  public var data = DatasetSpec()

  public init() {}

  /// Reads a recipe file; errors name the file and the field.
  public static func load(from url: URL) throws -> BaselineRecipe {
    let file = try RecipeFile(url: url, parts: ["baseline", "training", "data"])
    var recipe = BaselineRecipe()
    recipe.baseline = try file.part("baseline", BaselineSettings.self) ?? recipe.baseline
    if var training = try file.part("training", TrainingParameters.self) {
      // A recipe that leaves the steps out gets the same default as no recipe, not the teacher's.
      if try file.object("training")?["steps"] == nil { training.steps = recipe.training.steps }
      recipe.training = training
    }
    recipe.data = try file.part("data", DatasetSpec.self) ?? recipe.data
    return recipe
  }
}
