import Foundation
import NeuralLayers
import TensorCore

/// How one `modules train` run samples hybrids.
public enum HybridSampling: String, Codable, Sendable, CaseIterable {
  /// One granularity per step; each of its spans is replaced with the step's probability (the paper's).
  case perStep = "per-step"
  /// A random cover mixing granularities, so modules learn to sit next to each other.
  case mixed
  /// Every granularity each step: one per-step plan of each, beside one
  /// teacher pass. A step costs about as much as the local stage's, and no
  /// module waits for its granularity's turn.
  case every
}

/// Which teacher layer of its span a module starts as, or random weights.
public enum ModuleInitialisation: String, Codable, Sendable, CaseIterable {
  case first, middle, last, random

  /// The provenance text stored in the registry (`copy-first`, …, `random`).
  public var provenanceName: String { self == .random ? "random" : "copy-\(rawValue)" }

  /// The teacher layer to copy for `span`, nil for random weights.
  func sourceLayer(of span: ModuleSpan) -> Int? {
    switch self {
    case .first: span.start
    case .middle: span.start + (span.granularity - 1) / 2
    case .last: span.end - 1
    case .random: nil
    }
  }
}

/// Weights of the distillation loss terms.
public struct DistillationWeights: Codable, Sendable, Equatable {
  /// Task cross-entropy against the labels.
  public var crossEntropy: Float = 1
  /// `T²·KL` to the teacher's logits.
  public var logits: Float = 1
  /// MSE of hidden states at span boundaries, relative to the teacher's mean square.
  public var hidden: Float = 1
  /// MSE of a module's self-attention to the teacher's at the span's last layer (summed over keys).
  public var attention: Float = 1

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case crossEntropy = "cross_entropy", logits, hidden, attention
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = DistillationWeights()
    crossEntropy = try c.decodeIfPresent(Float.self, forKey: .crossEntropy) ?? d.crossEntropy
    logits = try c.decodeIfPresent(Float.self, forKey: .logits) ?? d.logits
    hidden = try c.decodeIfPresent(Float.self, forKey: .hidden) ?? d.hidden
    attention = try c.decodeIfPresent(Float.self, forKey: .attention) ?? d.attention
    for (key, value) in [(CodingKeys.crossEntropy, crossEntropy), (.logits, logits), (.hidden, hidden), (.attention, attention)]
    where !(value >= 0 && value.isFinite) {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be a non-negative number, got \(value)")
    }
    if let problem = validationProblem() {
      throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: problem))
    }
  }

  /// Why these weights train nothing, if they do not.
  public func validationProblem() -> String? {
    let all = [crossEntropy, logits, hidden, attention]
    if let bad = all.first(where: { !($0 >= 0 && $0.isFinite) }) { return "each weight must be a non-negative number, got \(bad)" }
    return all.contains { $0 > 0 } ? nil : "at least one loss weight must be positive"
  }
}

/// Settings of a module training run (the `modules` part of a recipe; snake_case keys).
public struct ModuleTrainingSettings: Codable, Sendable, Equatable, OptimizerFields {
  /// Granularities trained; each must be at least 2.
  public var granularities = [2, 3, 4, 6]
  /// `every` was the best measured (README, "Module quality").
  public var sampling = HybridSampling.every
  public var initialisation = ModuleInitialisation.first
  /// Twice the earlier 2,400 steps lifted 3× by 16 points on the graded demo
  /// (README, "Module quality").
  public var steps = 4800
  /// The share of the steps, at the start of the run, that train every
  /// module alone on the teacher's hidden states
  /// (``HybridDistillation/localLoss(_:)``) before the hybrid steps; 0 trains
  /// hybrids only (the paper's). A share, not a count, so that it scales with
  /// `steps` and always leaves hybrid steps. The default third was the best
  /// measured share (README, "Module quality").
  public var localFraction: Float = 1.0 / 3

  /// The steps of the local stage: `⌊local_fraction · steps⌋` (a share written
  /// in decimals, like 0.29 of 100, is not cut short by its binary rounding).
  public var localSteps: Int {
    min(max(steps - 1, 0), Int((Double(localFraction) * Double(steps) + 1e-3).rounded(.down)))
  }
  public var learningRate: Float = 1e-3
  public var warmupSteps = 50
  /// `linear` (warm-up then linear decay), `inverse_sqrt` or `constant`.
  public var schedule = "linear"
  public var weightDecay: Float = 0.01
  public var clipNorm: Float = 1
  /// BERT-of-Theseus' replacement probability `p = min(1, start + (1 − start)·t / (ramp·steps))`.
  /// 1 (every span replaced from the first step) was the best measured with
  /// `every` sampling (README, "Module quality").
  public var replaceStart: Float = 1
  /// The fraction of the steps after which every span is replaced (`p` = 1).
  public var replaceRamp: Float = 0.5
  public var temperature: Float = 2
  public var weights = DistillationWeights()
  public var checkpointEvery = 100
  public var seed: UInt64 = 0
  /// Validation examples the quality probe generates for each module (the loss uses the whole split).
  public var probeExamples = 200

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case granularities, sampling, initialisation, steps, learningRate = "learning_rate", warmupSteps = "warmup_steps"
    case schedule, weightDecay = "weight_decay", clipNorm = "clip_norm", replaceStart = "replace_start"
    case replaceRamp = "replace_ramp", temperature, weights, checkpointEvery = "checkpoint_every", seed
    case probeExamples = "probe_examples", localFraction = "local_fraction"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try decodeOptimizerFields(from: c)
    granularities = try c.decodeIfPresent([Int].self, forKey: .granularities) ?? granularities
    sampling = try c.decodeIfPresent(HybridSampling.self, forKey: .sampling) ?? sampling
    initialisation = try c.decodeIfPresent(ModuleInitialisation.self, forKey: .initialisation) ?? initialisation
    replaceStart = try c.decodeIfPresent(Float.self, forKey: .replaceStart) ?? replaceStart
    replaceRamp = try c.decodeIfPresent(Float.self, forKey: .replaceRamp) ?? replaceRamp
    temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? temperature
    weights = try c.decodeIfPresent(DistillationWeights.self, forKey: .weights) ?? weights
    checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? checkpointEvery
    seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
    probeExamples = try c.decodeIfPresent(Int.self, forKey: .probeExamples) ?? probeExamples
    localFraction = try c.decodeIfPresent(Float.self, forKey: .localFraction) ?? localFraction
    if let problem = validationProblem() {
      let key = CodingKeys(stringValue: problem.key) ?? .steps
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: problem.message)
    }
  }

  /// The first invalid field (its recipe key) and why, if any.
  public func validationProblem() -> (key: String, message: String)? {
    if granularities.isEmpty { return ("granularities", "must name at least one granularity") }
    if let bad = granularities.first(where: { $0 < 2 }) { return ("granularities", "each must be at least 2, got \(bad)") }
    if Set(granularities).count != granularities.count { return ("granularities", "lists a granularity twice") }
    if let problem = optimizerFieldProblem() { return problem }
    if !(localFraction >= 0 && localFraction < 1) { return ("local_fraction", "must be in [0, 1), got \(localFraction)") }
    if !(0...1).contains(replaceStart) { return ("replace_start", "must be in [0, 1], got \(replaceStart)") }
    if !(replaceRamp > 0 && replaceRamp <= 1) { return ("replace_ramp", "must be in (0, 1], got \(replaceRamp)") }
    if !(temperature > 0 && temperature.isFinite) { return ("temperature", "must be a positive finite number, got \(temperature)") }
    if let problem = weights.validationProblem() { return ("weights", problem) }
    if checkpointEvery <= 0 { return ("checkpoint_every", "must be positive") }
    if probeExamples < 0 { return ("probe_examples", "must not be negative") }
    return nil
  }

  /// Why a teacher with these depths can hold none of the granularities (a
  /// module of `g` layers needs a stack of at least `g`); nil when one fits.
  public func granularityProblem(encoderLayers: Int, decoderLayers: Int) -> (key: String, message: String)? {
    // One granularity too deep for both stacks is reported as a note by the
    // module set; only a run that would train nothing at all is refused.
    let deepest = max(encoderLayers, decoderLayers)
    guard !granularities.isEmpty, granularities.allSatisfy({ $0 > deepest }) else { return nil }
    let list = granularities.map(String.init).joined(separator: ", ")
    return (
      "granularities",
      "no granularity of [\(list)] fits the teacher (\(encoderLayers) encoder and \(decoderLayers) decoder layers), "
        + "so nothing would be trained; use granularities between 2 and \(deepest)"
    )
  }

  /// The replacement probability at `step` (1-based).
  public func replaceProbability(at step: Int) -> Float {
    let rampSteps = max(1, replaceRamp * Float(steps))
    return min(1, replaceStart + (1 - replaceStart) * Float(step - 1) / rampSteps)
  }

  /// A stable text of the settings that change the training (resume must match it).
  var fingerprint: String {
    var copy = self
    copy.checkpointEvery = 1
    copy.probeExamples = 0
    return stableJSONText(copy)
  }
}
