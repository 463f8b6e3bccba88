import Foundation
import JSONFormat
import TensorCore

/// `training-cost.json` in a registry folder: what each module run that
/// trained into the registry cost, so the comparison's training-cost ledger
/// can set the modules against one run per ratio of each baseline method.
///
/// ``ModuleTraining`` appends one run when it finishes (after the probe). A
/// registry without the file — trained before Tessera kept it, like the
/// shipped demo registry — reads as nil: not recorded, which the ledger says
/// in words rather than as zeros.
public struct ModuleTrainingCost: Codable, Sendable, Equatable {
  public static let fileName = "training-cost.json"
  public static let currentFormatVersion = 1

  public var formatVersion = ModuleTrainingCost.currentFormatVersion
  /// Every run that trained into the registry, oldest first.
  public var runs: [Run]

  /// One module run's totals, from its final trainer state (over every resume).
  public struct Run: Codable, Sendable, Equatable {
    /// The granularities the run's recipe trained.
    public var granularities: [Int]
    public var steps: Int
    /// Source and target tokens trained on.
    public var tokens: Int
    /// Seconds spent in training steps.
    public var seconds: Double
    /// SHA-256 of the teacher's `model.safetensors`.
    public var teacherFingerprint: String
    /// The command line that started the run, when known.
    public var command: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
      case granularities, steps, tokens, seconds, teacherFingerprint = "teacher_fingerprint", command
    }
  }

  public init(runs: [Run]) { self.runs = runs }

  enum CodingKeys: String, CodingKey, CaseIterable { case formatVersion = "format_version", runs }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    formatVersion = try c.decodeFormatVersion(forKey: .formatVersion, reading: Self.currentFormatVersion)
    runs = try c.decode([Run].self, forKey: .runs)
  }

  /// The runs' totals: steps, tokens and seconds summed.
  public var total: (runs: Int, steps: Int, tokens: Int, seconds: Double) {
    (runs.count, runs.reduce(0) { $0 + $1.steps }, runs.reduce(0) { $0 + $1.tokens }, runs.reduce(0) { $0 + $1.seconds })
  }

  /// Reads `REGISTRY/training-cost.json`; nil when the registry has none (not
  /// recorded). A run against another teacher than `teacherFingerprint`, an
  /// unknown or repeated key, or a bad value is an error naming the file and field.
  public static func read(inRegistry folder: URL, teacherFingerprint: String) throws -> ModuleTrainingCost? {
    let url = folder.appendingPathComponent(fileName)
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let cost = try StrictJSONFile.decode(ModuleTrainingCost.self, from: url)
    if let index = cost.runs.firstIndex(where: { $0.teacherFingerprint != teacherFingerprint }) {
      throw RecipeError(
        file: url.path,
        reason: "field 'runs.\(index).teacher_fingerprint': \(cost.runs[index].teacherFingerprint) is not the registry's teacher "
          + "(\(teacherFingerprint))")
    }
    return cost
  }

  /// Adds `run` to the registry's file (created when missing), atomically and
  /// under the registry's lock, so runs into one registry each keep the
  /// others'. A run equal to the last one recorded is not added again: a run
  /// killed after recording and resumed records nothing new.
  public static func append(_ run: Run, toRegistry folder: URL) throws {
    try RegistryLock.withLock(folder, .exclusive) {
      var cost = try read(inRegistry: folder, teacherFingerprint: run.teacherFingerprint) ?? ModuleTrainingCost(runs: [])
      guard cost.runs.last != run else { return }
      cost.runs.append(run)
      try StrictJSONFile.write(cost, to: folder.appendingPathComponent(fileName))
    }
  }
}

extension ModuleTrainingCost.Run {
  // In an extension, so that the struct keeps its memberwise initialiser.
  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    granularities = try c.decode([Int].self, forKey: .granularities)
    steps = try c.decode(Int.self, forKey: .steps)
    tokens = try c.decode(Int.self, forKey: .tokens)
    seconds = try c.decode(Double.self, forKey: .seconds)
    teacherFingerprint = try c.decode(String.self, forKey: .teacherFingerprint)
    command = try c.decodeIfPresent(String.self, forKey: .command)
    if granularities.isEmpty || granularities.contains(where: { $0 < 1 }) {
      throw DecodingError.dataCorruptedError(
        forKey: .granularities, in: c, debugDescription: "must list at least one granularity, each ≥ 1, got \(granularities)")
    }
    try c.refuseNegative([(.steps, steps), (.tokens, tokens)])
    try c.refuseNegativeOrNonFinite([(.seconds, seconds)])
  }
}
