import Foundation
import JSONFormat
import TensorCore

/// The per-ratio methods a user would otherwise pick instead of one modules run.
public enum BaselineMethod: String, Codable, Sendable, CaseIterable {
  /// The student's shape from random weights, cross-entropy on the labels.
  case scratch
  /// DistilBART's shrink and fine-tune: evenly spaced teacher layers copied
  /// (first and last kept), then cross-entropy on the labels.
  case sft
  /// sft's start, then cross-entropy + T²·KL to the teacher's logits +
  /// hidden-state MSE of each student layer against the teacher layer that
  /// ends the span it stands for.
  case kd
  /// sft's start, trained on the teacher's greedy outputs for the training sources.
  case pseudoLabels = "pseudo-labels"
  /// BERT-of-Theseus at one ratio: modules of one granularity covering both
  /// stacks, trained with replacement, then assembled at the ratio.
  case theseus
  /// Not a rival: an assembled model of this teacher's registry (`--from`)
  /// given a few hundred kd steps. Compared as its own kind of row
  /// (`polished`), never among the assemblies, which are not retrained.
  case polish

  /// Parses a method name; an unknown one is an error naming the valid ones.
  public init(parsing name: String) throws {
    guard let method = BaselineMethod(rawValue: name) else {
      throw RecipeError(
        file: "--method", reason: "unknown method '\(name)'; expected one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    self = method
  }
}

/// `baseline.json` of a baseline's model folder: what made the model and what
/// it cost, so `compare --baselines` can rank it and fill the training-cost ledger.
public struct BaselineRecord: Codable, Sendable, Equatable {
  public static let fileName = "baseline.json"
  public static let currentFormatVersion = 1

  public var formatVersion = BaselineRecord.currentFormatVersion
  public var method: BaselineMethod
  /// The ratio asked for (the student's layer-parameter ratio reaches it).
  public var requestedRatio: Double
  /// The student's layer-parameter ratio (teacher layer parameters / student layer parameters).
  public var layerParameterRatio: Double
  /// `size-first` or `speed-first`: which rule chose the depths.
  public var strategy: AssemblyStrategy
  public var encoderLayers: Int
  public var decoderLayers: Int
  /// The teacher layer each student layer started as (sft, kd, pseudo-labels)
  /// or, for theseus, nil; scratch starts from random weights (nil).
  public var encoderLayerMap: [Int]?
  public var decoderLayerMap: [Int]?
  /// Training steps, source + target tokens and seconds spent (theseus: its module run).
  public var steps: Int
  public var tokens: Int
  public var seconds: Double
  /// Seconds the teacher spent making this run's pseudo-labels: 0 when the
  /// method uses none or they came from a cache another run made (a sweep's
  /// members share one, so the ledger counts the labelling once).
  public var labelSeconds: Double
  /// SHA-256 of the teacher's `model.safetensors`.
  public var teacherFingerprint: String
  /// Where the training data came from (`task dates`, `file train.tsv`).
  public var data: String
  /// polish: the plan of the assembled model it started from (`enc M3[0-2] M3[3-5] | dec …`).
  public var startPlan: String?

  public init(
    method: BaselineMethod, requestedRatio: Double, layerParameterRatio: Double, strategy: AssemblyStrategy,
    encoderLayers: Int, decoderLayers: Int, encoderLayerMap: [Int]?, decoderLayerMap: [Int]?, steps: Int, tokens: Int,
    seconds: Double, labelSeconds: Double = 0, teacherFingerprint: String, data: String, startPlan: String? = nil
  ) {
    self.method = method
    self.requestedRatio = requestedRatio
    self.layerParameterRatio = layerParameterRatio
    self.strategy = strategy
    self.encoderLayers = encoderLayers
    self.decoderLayers = decoderLayers
    self.encoderLayerMap = encoderLayerMap
    self.decoderLayerMap = decoderLayerMap
    self.steps = steps
    self.tokens = tokens
    self.seconds = seconds
    self.labelSeconds = labelSeconds
    self.teacherFingerprint = teacherFingerprint
    self.data = data
    self.startPlan = startPlan
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case formatVersion = "format_version", method, requestedRatio = "requested_ratio"
    case layerParameterRatio = "layer_parameter_ratio", strategy, encoderLayers = "encoder_layers"
    case decoderLayers = "decoder_layers", encoderLayerMap = "encoder_layer_map", decoderLayerMap = "decoder_layer_map"
    case steps, tokens, seconds, labelSeconds = "label_seconds", teacherFingerprint = "teacher_fingerprint", data
    case startPlan = "start_plan"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    formatVersion = try c.decodeFormatVersion(forKey: .formatVersion, reading: Self.currentFormatVersion)
    method = try c.decode(BaselineMethod.self, forKey: .method)
    requestedRatio = try c.decode(Double.self, forKey: .requestedRatio)
    layerParameterRatio = try c.decode(Double.self, forKey: .layerParameterRatio)
    strategy = try c.decode(AssemblyStrategy.self, forKey: .strategy)
    encoderLayers = try c.decode(Int.self, forKey: .encoderLayers)
    decoderLayers = try c.decode(Int.self, forKey: .decoderLayers)
    encoderLayerMap = try c.decodeIfPresent([Int].self, forKey: .encoderLayerMap)
    decoderLayerMap = try c.decodeIfPresent([Int].self, forKey: .decoderLayerMap)
    steps = try c.decode(Int.self, forKey: .steps)
    tokens = try c.decode(Int.self, forKey: .tokens)
    seconds = try c.decode(Double.self, forKey: .seconds)
    labelSeconds = try c.decodeIfPresent(Double.self, forKey: .labelSeconds) ?? 0
    teacherFingerprint = try c.decode(String.self, forKey: .teacherFingerprint)
    data = try c.decode(String.self, forKey: .data)
    startPlan = try c.decodeIfPresent(String.self, forKey: .startPlan)
    for (key, value) in [(CodingKeys.requestedRatio, requestedRatio), (.layerParameterRatio, layerParameterRatio)]
    where !(value.isFinite && value >= 1) {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be a finite number ≥ 1, got \(value)")
    }
    for (key, value) in [(CodingKeys.encoderLayers, encoderLayers), (.decoderLayers, decoderLayers)] where value < 1 {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be at least 1, got \(value)")
    }
    try c.refuseNegative([(.steps, steps), (.tokens, tokens)])
    try c.refuseNegativeOrNonFinite([(.seconds, seconds), (.labelSeconds, labelSeconds)])
  }

  /// Reads `FOLDER/baseline.json`; errors name the file and the field.
  public static func read(from folder: URL) throws -> BaselineRecord {
    try StrictJSONFile.decode(BaselineRecord.self, from: folder.appendingPathComponent(fileName))
  }

  /// Writes `FOLDER/baseline.json` atomically (pretty-printed, sorted keys).
  public func write(to folder: URL) throws {
    try StrictJSONFile.write(self, to: folder.appendingPathComponent(Self.fileName))
  }
}
