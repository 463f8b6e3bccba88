import Foundation

/// The optimiser's share of a training recipe (`steps`, `learning_rate`,
/// `warmup_steps`, `schedule`, `weight_decay`, `clip_norm`), read and checked
/// the same way for every kind of training; each kind keeps its own defaults.
public protocol OptimizerFields: NamedLearningRateSchedule {
  var steps: Int { get set }
  var learningRate: Float { get set }
  var warmupSteps: Int { get set }
  var schedule: String { get set }
  var weightDecay: Float { get set }
  var clipNorm: Float { get set }
}

extension OptimizerFields {
  /// Reads the optimiser keys present in `container`; absent keys keep the current values.
  public mutating func decodeOptimizerFields<Key: CodingKey>(from container: KeyedDecodingContainer<Key>) throws {
    func read<Value: Decodable>(_ name: String, into value: inout Value) throws {
      guard let key = Key(stringValue: name), let read = try container.decodeIfPresent(Value.self, forKey: key) else { return }
      value = read
    }
    try read("steps", into: &steps)
    try read("learning_rate", into: &learningRate)
    try read("warmup_steps", into: &warmupSteps)
    try read("schedule", into: &schedule)
    try read("weight_decay", into: &weightDecay)
    try read("clip_norm", into: &clipNorm)
  }

  /// Takes the optimiser settings of another kind of training (a baseline's
  /// `training` section for the modules run behind it).
  public mutating func copyOptimizerFields(from other: some OptimizerFields) {
    steps = other.steps
    learningRate = other.learningRate
    warmupSteps = other.warmupSteps
    schedule = other.schedule
    weightDecay = other.weightDecay
    clipNorm = other.clipNorm
  }

  /// The first invalid optimiser field (its recipe key) and why, if any.
  public func optimizerFieldProblem() -> (key: String, message: String)? {
    if steps <= 0 { return ("steps", "must be positive, got \(steps)") }
    if !(learningRate > 0 && learningRate.isFinite) { return ("learning_rate", "must be a positive finite number, got \(learningRate)") }
    if warmupSteps < 0 { return ("warmup_steps", "must not be negative") }
    if !LearningRateSchedule.names.contains(schedule) {
      return ("schedule", "unknown schedule '\(schedule)'; expected linear, inverse_sqrt or constant")
    }
    if !(weightDecay >= 0 && weightDecay.isFinite) { return ("weight_decay", "must be a finite number ≥ 0, got \(weightDecay)") }
    if !(clipNorm >= 0 && clipNorm.isFinite) { return ("clip_norm", "must be a finite number ≥ 0, got \(clipNorm)") }
    return nil
  }
}
