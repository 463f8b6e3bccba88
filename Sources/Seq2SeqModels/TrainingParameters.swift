import Foundation
import NeuralLayers
import TensorCore

/// Settings of a training run; Codable with snake_case keys for recipes.
public struct TrainingParameters: Codable, Sendable, Equatable, OptimizerFields {
  public var steps = 1000
  public var learningRate: Float = 1e-3
  public var warmupSteps = 100
  /// `linear` (warm-up then linear decay), `inverse_sqrt` or `constant`.
  public var schedule = "linear"
  public var weightDecay: Float = 0.01
  public var clipNorm: Float = 1
  public var labelSmoothing: Float = 0
  /// Dropout while training; nil takes the model configuration's rate.
  public var dropout: Float?
  public var validateEvery = 200
  public var checkpointEvery = 200
  public var seed: UInt64 = 0

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case steps, learningRate = "learning_rate", warmupSteps = "warmup_steps", schedule, weightDecay = "weight_decay"
    case clipNorm = "clip_norm", labelSmoothing = "label_smoothing", dropout, validateEvery = "validate_every"
    case checkpointEvery = "checkpoint_every", seed
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try decodeOptimizerFields(from: c)
    labelSmoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? labelSmoothing
    dropout = try c.decodeIfPresent(Float.self, forKey: .dropout)
    validateEvery = try c.decodeIfPresent(Int.self, forKey: .validateEvery) ?? validateEvery
    checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? checkpointEvery
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
    if let problem = problem() {
      throw DecodingError.dataCorruptedError(forKey: problem.key, in: c, debugDescription: problem.message)
    }
  }

  /// The first invalid field (its recipe key) and why, if any.
  public func validationProblem() -> (key: String, message: String)? {
    problem().map { ($0.key.stringValue, $0.message) }
  }

  func problem() -> (key: CodingKeys, message: String)? {
    if let problem = optimizerFieldProblem() {
      return (CodingKeys(stringValue: problem.key) ?? .steps, problem.message)
    }
    if !(0..<1).contains(labelSmoothing) { return (.labelSmoothing, "must be in [0, 1), got \(labelSmoothing)") }
    if let dropout, !(0..<1).contains(dropout) { return (.dropout, "must be in [0, 1), got \(dropout)") }
    if validateEvery <= 0 { return (.validateEvery, "must be positive") }
    if checkpointEvery <= 0 { return (.checkpointEvery, "must be positive") }
    return nil
  }

  /// The loop's share of these settings.
  public var loopSettings: TrainingLoopSettings {
    TrainingLoopSettings(
      steps: steps, learningRate: learningRate, schedule: learningRateSchedule, weightDecay: weightDecay, clipNorm: clipNorm,
      validateEvery: validateEvery, checkpointEvery: checkpointEvery)
  }

  /// A stable text of the settings that change the losses (resume must match it).
  public var fingerprint: String {
    var copy = self
    copy.validateEvery = 1
    copy.checkpointEvery = 1
    return stableJSONText(copy)
  }
}
