import Foundation
import JSONFormat
import TextTasks

/// Everything `tessera compare` measured: `results.json` (snake_case keys).
public struct ComparisonResults: Codable, Sendable, Equatable {
  public static let currentFormatVersion = 2

  public var formatVersion: Int
  public var settings: ComparisonSettings
  public var teacher: Teacher
  public var registry: Registry
  public var data: DataSummary
  public var latencyProfile: LatencyProfile
  public var environment: Environment
  /// The teacher first, then per requested ratio each candidate's rows.
  public var rows: [ComparisonRow]
  /// Training steps, tokens and seconds of the modules against each baseline
  /// method; nil in results written before the ledger.
  @NullEncoded public var ledger: TrainingCostLedger? = nil

  public struct Teacher: Codable, Sendable, Equatable {
    public var modelType: String
    @NullEncoded public var path: String?
    @NullEncoded public var fingerprint: String?
    public var encoderDepth: Int
    public var decoderDepth: Int
    public var parameters: Int
    public var layerParameters: Int

    enum CodingKeys: String, CodingKey {
      case modelType = "model_type", path, fingerprint, encoderDepth = "encoder_depth", decoderDepth = "decoder_depth"
      case parameters, layerParameters = "layer_parameters"
    }
  }

  public struct Registry: Codable, Sendable, Equatable {
    public var path: String
    @NullEncoded public var fingerprint: String?
    public var modules: Int
    /// Layer-parameter ratios the registry's modules can reach.
    public var reachableRatios: [Double]

    enum CodingKeys: String, CodingKey { case path, fingerprint, modules, reachableRatios = "reachable_ratios" }
  }

  public struct DataSummary: Codable, Sendable, Equatable {
    public var name: String
    public var examples: Int
    public var medianSourceTokens: Int
    public var medianTargetTokens: Int

    enum CodingKeys: String, CodingKey {
      case name, examples, medianSourceTokens = "median_source_tokens", medianTargetTokens = "median_target_tokens"
    }
  }

  /// The per-layer seconds the planner used (null: estimated from parameters).
  public struct LatencyProfile: Codable, Sendable, Equatable {
    public var sourceTokens: Int
    public var generatedTokens: Int
    @NullEncoded public var encoderLayerSeconds: Double?
    @NullEncoded public var decoderLayerSeconds: Double?
    /// The registry's profile file the planner read, and when it was measured; null when estimated.
    @NullEncoded public var file: String?
    @NullEncoded public var measured: String?

    enum CodingKeys: String, CodingKey {
      case sourceTokens = "source_tokens", generatedTokens = "generated_tokens"
      case encoderLayerSeconds = "encoder_layer_seconds", decoderLayerSeconds = "decoder_layer_seconds"
      case file, measured
    }
  }

  public struct Environment: Codable, Sendable, Equatable {
    public var blas: String
    public var threads: Int
  }

  enum CodingKeys: String, CodingKey {
    case formatVersion = "format_version", settings, teacher, registry, data, latencyProfile = "latency_profile"
    case environment, rows, ledger
  }

  /// The measured row for the teacher.
  public var teacherRow: ComparisonRow? { rows.first(where: \.isTeacher) }

  /// Pretty, key-sorted JSON; non-finite numbers (a loss can overflow) as strings.
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(self)
  }

  /// Reads what ``jsonData()`` wrote.
  public static func decode(_ data: Data) throws -> ComparisonResults {
    _ = try JSONValue.parse(data)  // refuses repeated keys, which JSONDecoder would resolve silently
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try decoder.decode(ComparisonResults.self, from: data)
  }
}

/// One line of the comparison: the teacher or one candidate model (an
/// assembly, a layer-dropped model, and whatever kinds of candidate come next).
///
/// `kind` is an open string; the fields every kind may fill are optional, so
/// a new kind of candidate needs no change here, in the report or in the plot.
public struct ComparisonRow: Codable, Sendable, Equatable {
  /// The kind of the reference row, against which speedups and relative quality are measured.
  public static let teacherKind = "teacher"

  /// What made the model: `teacher`, `assembly`, `layer-dropping`, …
  public var kind: String
  /// Unique within a comparison: `teacher`, `size-first 2×`, `layer-drop 2×`.
  public var label: String
  /// How the kind made it, when it has variants: the assembly strategy, a baseline's method.
  @NullEncoded public var method: String?
  @NullEncoded public var requestedRatio: Double?
  /// Why there is no model for this row (the planner's message); nil when measured.
  @NullEncoded public var skipped: String?
  /// The label of an earlier row with the same model, whose measurements this row repeats.
  @NullEncoded public var sameModelAs: String?
  /// The plan's compact form (`enc L0 M2[1-2] | dec …`); for layer dropping the kept layers.
  @NullEncoded public var plan: String?
  /// Depths, sizes and the ratios (`latency_speedup` is the measured speedup, `bytes_ratio` the stored bytes').
  @NullEncoded public var cost: PlanCost?
  @NullEncoded public var quality: Quality?
  @NullEncoded public var timing: Timing?
  /// The planner's predictions (assemblies only).
  @NullEncoded public var predictedLossIncrease: Double?
  @NullEncoded public var estimatedSpeedup: Double?
  /// No other measured model has both higher quality and a higher speedup.
  public var onSpeedFront = false
  /// No other measured model has both higher quality and fewer stored weight bytes.
  public var onSizeFront = false

  public struct Quality: Codable, Sendable, Equatable {
    /// The settings' primary metric.
    public var metric: Double
    /// `metric` / the teacher's; nil when the teacher scores 0.
    @NullEncoded public var relativeToTeacher: Double?
    /// Mean teacher-forced cross-entropy per target token (nats).
    public var loss: Double
    public var metrics: [MetricValue]

    enum CodingKeys: String, CodingKey { case metric, relativeToTeacher = "relative_to_teacher", loss, metrics }
  }

  public struct Timing: Codable, Sendable, Equatable {
    /// Milliseconds per generated token in the latency runs.
    public var millisecondsPerToken: Double { latencyMilliseconds / max(latencyGeneratedTokens, 1) }

    /// Mean milliseconds of one batch-1 greedy generation, encoder included.
    public var latencyMilliseconds: Double
    public var latencyExamples: Int
    /// Mean tokens generated in those runs: a model that stops earlier or
    /// later than the teacher is faster or slower for that reason too.
    public var latencyGeneratedTokens: Double
    /// Batched greedy generation over all examples.
    public var examplesPerSecond: Double
    public var generatedTokensPerSecond: Double
    public var batchSize: Int

    enum CodingKeys: String, CodingKey {
      case latencyMilliseconds = "latency_ms", latencyExamples = "latency_examples"
      case latencyGeneratedTokens = "latency_generated_tokens"
      case examplesPerSecond = "examples_per_second", generatedTokensPerSecond = "generated_tokens_per_second"
      case batchSize = "batch_size"
    }
  }

  enum CodingKeys: String, CodingKey {
    case kind, label, method, requestedRatio = "requested_ratio", skipped, sameModelAs = "same_model_as", plan, cost
    case quality, timing, predictedLossIncrease = "predicted_loss_increase", estimatedSpeedup = "estimated_speedup"
    case onSpeedFront = "on_speed_front", onSizeFront = "on_size_front"
    /// Earlier results wrote the assembly strategy here, and no label.
    case legacyStrategy = "strategy"
  }

  /// A row labelled `label`, or by default `method` (else `kind`) followed by the ratio: `size-first 2×`.
  public init(kind: String, label: String? = nil, method: String? = nil, requestedRatio: Double? = nil) {
    self.kind = kind
    self.method = method
    self.requestedRatio = requestedRatio
    self.label = label ?? Self.defaultLabel(name: method ?? kind, requestedRatio: requestedRatio)
  }

  /// `name` and the ratio: `size-first 2×`; just `name` without a ratio.
  public static func defaultLabel(name: String, requestedRatio: Double?) -> String {
    name + (requestedRatio.map { " \(formatRatio($0))×" } ?? "")
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try c.decode(String.self, forKey: .kind)
    let method = try c.decodeIfPresent(String.self, forKey: .method) ?? c.decodeIfPresent(String.self, forKey: .legacyStrategy)
    let ratio = try c.decodeIfPresent(Double.self, forKey: .requestedRatio)
    // Results without labels named layer dropping `layer-drop`.
    let legacyName = kind == "layer-dropping" ? "layer-drop" : (method ?? kind)
    self.kind = kind
    self.method = method
    requestedRatio = ratio
    label = try c.decodeIfPresent(String.self, forKey: .label) ?? Self.defaultLabel(name: legacyName, requestedRatio: ratio)
    skipped = try c.decodeIfPresent(String.self, forKey: .skipped)
    sameModelAs = try c.decodeIfPresent(String.self, forKey: .sameModelAs)
    plan = try c.decodeIfPresent(String.self, forKey: .plan)
    cost = try c.decodeIfPresent(PlanCost.self, forKey: .cost)
    quality = try c.decodeIfPresent(Quality.self, forKey: .quality)
    timing = try c.decodeIfPresent(Timing.self, forKey: .timing)
    predictedLossIncrease = try c.decodeIfPresent(Double.self, forKey: .predictedLossIncrease)
    estimatedSpeedup = try c.decodeIfPresent(Double.self, forKey: .estimatedSpeedup)
    onSpeedFront = try c.decodeIfPresent(Bool.self, forKey: .onSpeedFront) ?? false
    onSizeFront = try c.decodeIfPresent(Bool.self, forKey: .onSizeFront) ?? false
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(kind, forKey: .kind)
    try c.encode(label, forKey: .label)
    try c.encode(_method, forKey: .method)
    try c.encode(_requestedRatio, forKey: .requestedRatio)
    try c.encode(_skipped, forKey: .skipped)
    try c.encode(_sameModelAs, forKey: .sameModelAs)
    try c.encode(_plan, forKey: .plan)
    try c.encode(_cost, forKey: .cost)
    try c.encode(_quality, forKey: .quality)
    try c.encode(_timing, forKey: .timing)
    try c.encode(_predictedLossIncrease, forKey: .predictedLossIncrease)
    try c.encode(_estimatedSpeedup, forKey: .estimatedSpeedup)
    try c.encode(onSpeedFront, forKey: .onSpeedFront)
    try c.encode(onSizeFront, forKey: .onSizeFront)
  }

  /// The assembly strategy, for assembly rows.
  public var strategy: AssemblyStrategy? { kind == AssemblyCandidate.kind ? method.flatMap(AssemblyStrategy.init(rawValue:)) : nil }

  /// Whether this is the teacher's (reference) row.
  public var isTeacher: Bool { kind == Self.teacherKind }

  /// Whether the row has measurements.
  public var isMeasured: Bool { quality != nil && timing != nil && cost != nil }
}
