import Foundation
import NeuralLayers
import TextTasks

/// What `tessera compare` sweeps and how it measures. Codable (snake_case,
/// every field optional with the defaults below), so a recipe or
/// `results.json` can carry it.
public struct ComparisonSettings: Codable, Sendable, Equatable {
  /// Requested layer-parameter ratios (teacher / assembly), each ≥ 1.
  public var ratios: [Double] = [1.1, 1.5, 2, 3, 4, 6]
  public var strategies: [AssemblyStrategy] = [.sizeFirst, .speedFirst, .pareto]
  /// Adds the layer-dropping baseline at every ratio.
  public var includeLayerDropping = true
  /// Metrics of the generated outputs.
  public var metrics: [TextMetric] = [.em, .chrf]
  /// The display name of the metric that ranks quality (`EM`, `chrF`,
  /// `BLEU`, `ROUGE-L` …); it must be one `metrics` produce.
  public var primaryMetric = "EM"
  /// Examples generated one at a time (batch 1, greedy) to measure latency.
  public var latencyExamples = 20
  /// Batch size of the quality pass, which also gives batched throughput.
  public var throughputBatch = 64
  /// Plan with the latency profile kept in the registry folder
  /// (``LatencyProfile``, measured there when missing), as `tessera
  /// assemble` does; off: parameter-count estimates.
  public var profileLatency = true
  /// How the examples are named in the report (`arithmetic, test split`).
  public var dataName = "examples"
  /// Plans of equal size scored on validation examples for each `measured`
  /// row (``MeasuredAssemblyCandidate``); 0 leaves those rows out.
  public var measuredPlans = 24
  /// Quantized copies of the teacher and every assembly, one row each per scheme (``TransformRows``).
  public var quantize: [QuantizationScheme] = []
  /// Transform chains applied to copies of the teacher and every assembly, one row each per chain (``TransformRows``).
  public var transforms: [[TransformStage]] = []

  public init(
    ratios: [Double] = [1.1, 1.5, 2, 3, 4, 6], strategies: [AssemblyStrategy] = [.sizeFirst, .speedFirst, .pareto],
    includeLayerDropping: Bool = true, metrics: [TextMetric] = [.em, .chrf], primaryMetric: String = "EM",
    latencyExamples: Int = 20, throughputBatch: Int = 64, profileLatency: Bool = true, dataName: String = "examples",
    measuredPlans: Int = 24
  ) {
    self.measuredPlans = measuredPlans
    self.ratios = ratios
    self.strategies = strategies
    self.includeLayerDropping = includeLayerDropping
    self.metrics = metrics
    self.primaryMetric = primaryMetric
    self.latencyExamples = latencyExamples
    self.throughputBatch = throughputBatch
    self.profileLatency = profileLatency
    self.dataName = dataName
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case ratios, strategies, includeLayerDropping = "include_layer_dropping", metrics, primaryMetric = "primary_metric"
    case latencyExamples = "latency_examples", throughputBatch = "throughput_batch", profileLatency = "profile_latency"
    case dataName = "data_name", measuredPlans = "measured_plans", quantize, transforms
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = ComparisonSettings()
    ratios = try c.decodeIfPresent([Double].self, forKey: .ratios) ?? d.ratios
    strategies = try c.decodeIfPresent([AssemblyStrategy].self, forKey: .strategies) ?? d.strategies
    includeLayerDropping = try c.decodeIfPresent(Bool.self, forKey: .includeLayerDropping) ?? d.includeLayerDropping
    metrics = try c.decodeIfPresent([TextMetric].self, forKey: .metrics) ?? d.metrics
    primaryMetric = try c.decodeIfPresent(String.self, forKey: .primaryMetric) ?? d.primaryMetric
    latencyExamples = try c.decodeIfPresent(Int.self, forKey: .latencyExamples) ?? d.latencyExamples
    throughputBatch = try c.decodeIfPresent(Int.self, forKey: .throughputBatch) ?? d.throughputBatch
    profileLatency = try c.decodeIfPresent(Bool.self, forKey: .profileLatency) ?? d.profileLatency
    dataName = try c.decodeIfPresent(String.self, forKey: .dataName) ?? d.dataName
    measuredPlans = try c.decodeIfPresent(Int.self, forKey: .measuredPlans) ?? d.measuredPlans
    quantize = try c.decodeIfPresent([QuantizationScheme].self, forKey: .quantize) ?? d.quantize
    transforms = try c.decodeIfPresent([[TransformStage]].self, forKey: .transforms) ?? d.transforms
    if let problem = validationProblem() {
      throw DecodingError.dataCorruptedError(forKey: problem.key, in: c, debugDescription: problem.message)
    }
  }

  /// Throws ``ComparisonError/invalidSetting(_:_:)`` naming the first bad field.
  public func validate() throws {
    if let problem = validationProblem() { throw ComparisonError.invalidSetting(problem.key.rawValue, problem.message) }
  }

  func validationProblem() -> (key: CodingKeys, message: String)? {
    if let bad = ratios.first(where: { !$0.isFinite || $0 < 1 }) {
      return (.ratios, "ratio \(bad) is not valid: each must be a finite number ≥ 1")
    }
    if let twice = ratios.first(where: { ratio in ratios.filter { formatRatio($0) == formatRatio(ratio) }.count > 1 }) {
      return (.ratios, "ratio \(formatRatio(twice)) is given twice")
    }
    if let twice = strategies.first(where: { strategy in strategies.filter { $0 == strategy }.count > 1 }) {
      return (.strategies, "strategy '\(twice)' is given twice")
    }
    if let twice = quantize.first(where: { scheme in quantize.filter { $0 == scheme }.count > 1 }) {
      return (.quantize, "scheme '\(twice.rawValue)' is given twice")
    }
    for (index, chain) in transforms.enumerated() {
      do { try TransformStage.validate(chain) } catch { return (.transforms, "chain \(index + 1): \(error)") }
      if transforms[..<index].contains(chain) { return (.transforms, "chain \(index + 1) is given twice") }
    }
    if latencyExamples < 1 { return (.latencyExamples, "must be at least 1, got \(latencyExamples)") }
    if throughputBatch < 1 { return (.throughputBatch, "must be at least 1, got \(throughputBatch)") }
    if !(0...Self.maximumMeasuredPlans).contains(measuredPlans) {
      return (.measuredPlans, "must be between 0 and \(Self.maximumMeasuredPlans), got \(measuredPlans)")
    }
    let names = Self.metricNames(metrics)
    if !names.contains(primaryMetric) {
      return (.primaryMetric, "'\(primaryMetric)' is not among the computed metrics (\(names.joined(separator: ", ")))")
    }
    return nil
  }

  /// Each measured plan costs one forward pass over the validation examples per ratio.
  public static let maximumMeasuredPlans = 1000

  /// The display names `metrics` produce, in order.
  public static func metricNames(_ metrics: [TextMetric]) -> [String] {
    metrics.flatMap { metric -> [String] in
      switch metric {
      case .em: ["EM"]
      case .chrf: ["chrF"]
      case .bleu: ["BLEU"]
      case .rouge: ["ROUGE-1", "ROUGE-2", "ROUGE-L"]
      }
    }
  }

  /// A metric as users type it (`em`, `chrf`, `bleu`, `rouge-l` …, any case):
  /// its display name and the metric that computes it.
  public static func primaryMetric(parsing text: String) throws -> (name: String, metric: TextMetric) {
    for metric in TextMetric.allCases {
      for name in metricNames([metric]) where name.lowercased() == text.lowercased() { return (name, metric) }
    }
    if text.lowercased() == "rouge" { return ("ROUGE-L", .rouge) }
    let known = TextMetric.allCases.flatMap { metricNames([$0]) }.map { $0.lowercased() }
    throw ComparisonError.invalidSetting("metric", "unknown metric '\(text)'; one of \(known.joined(separator: ", "))")
  }
}

/// Input that `Comparison.run` cannot work with.
public enum ComparisonError: Error, LocalizedError, CustomStringConvertible, Equatable {
  case invalidSetting(String, String)
  case noExamples

  public var description: String {
    switch self {
    case .invalidSetting(let field, let reason): "comparison setting \(field): \(reason)"
    case .noExamples: "comparison needs at least one example"
    }
  }

  public var errorDescription: String? { description }
}
