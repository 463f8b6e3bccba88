import Foundation
import Seq2SeqModels
import TensorCore

/// `assembly.json`: how an assembled model folder was made.
///
/// ```json
/// {"format_version": 1, "strategy": "speed-first", "requested_ratio": 2,
///  "plan": {"encoder": [{"teacher": 0}, {"module": "encoder.g2.1"}, …], "decoder": […]},
///  "summary": "enc L0 M2[2-3] … | dec …",
///  "registry_fingerprint": "…", "teacher_fingerprint": "…",
///  "layers": {"encoder": 10, "decoder": 6, "teacher_encoder": 12, "teacher_decoder": 12},
///  "cost": {"layer_parameters": …, "layer_parameter_ratio": 2, "total_parameter_ratio": 1.6,
///           "latency_speedup": null, "estimated_decoding_flops_per_token": …, …},
///  "predicted_loss_increase": 0.04, "estimated_speedup": 2.6}
/// ```
public struct AssemblyReport: Codable, Sendable, Equatable {
  public static let currentFormatVersion = 1
  public static let fileName = "assembly.json"

  public struct Layers: Codable, Sendable, Equatable {
    public var encoder: Int
    public var decoder: Int
    public var teacherEncoder: Int
    public var teacherDecoder: Int

    public init(encoder: Int, decoder: Int, teacherEncoder: Int, teacherDecoder: Int) {
      self.encoder = encoder
      self.decoder = decoder
      self.teacherEncoder = teacherEncoder
      self.teacherDecoder = teacherDecoder
    }

    enum CodingKeys: String, CodingKey {
      case encoder, decoder, teacherEncoder = "teacher_encoder", teacherDecoder = "teacher_decoder"
    }
  }

  public var formatVersion: Int
  /// The strategy's name, or `explicit` for a plan given in full.
  public var strategy: String
  /// The requested layer-parameter ratio; nil for explicit plans and speedup budgets.
  @NullEncoded public var requestedRatio: Double?
  public var plan: AssemblyPlan
  public var summary: String
  @NullEncoded public var registryFingerprint: String?
  @NullEncoded public var teacherFingerprint: String?
  public var layers: Layers
  /// Sizes and the three ratios; `latency_speedup` is null until measured.
  public var cost: PlanCost
  public var predictedLossIncrease: Double
  public var estimatedSpeedup: Double

  enum CodingKeys: String, CodingKey {
    case formatVersion = "format_version", strategy, requestedRatio = "requested_ratio", plan, summary
    case registryFingerprint = "registry_fingerprint", teacherFingerprint = "teacher_fingerprint", layers, cost
    case predictedLossIncrease = "predicted_loss_increase", estimatedSpeedup = "estimated_speedup"
  }

  public init(_ planned: PlannedAssembly, costs: LayerCosts, registryFingerprint: String?, teacherFingerprint: String?) {
    formatVersion = Self.currentFormatVersion
    strategy = planned.strategy?.rawValue ?? "explicit"
    requestedRatio = planned.requestedRatio
    plan = planned.plan
    summary = planned.plan.summary
    self.registryFingerprint = registryFingerprint
    self.teacherFingerprint = teacherFingerprint
    layers = Layers(
      encoder: planned.plan.encoder.count, decoder: planned.plan.decoder.count, teacherEncoder: costs.encoderDepth,
      teacherDecoder: costs.decoderDepth)
    cost = planned.cost
    predictedLossIncrease = planned.predictedLossIncrease
    estimatedSpeedup = planned.estimatedSpeedup
  }

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  /// Reads `assembly.json` from a model folder (or the file itself).
  public static func load(from url: URL) throws -> AssemblyReport {
    var isDirectory: ObjCBool = false
    let file =
      FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
      ? url.appendingPathComponent(fileName) : url
    let data: Data
    do { data = try Data(contentsOf: file) } catch { throw RecipeError(file: file.path, reason: "cannot be read") }
    do { return try JSONDecoder().decode(AssemblyReport.self, from: data) } catch let error as DecodingError {
      throw RecipeError(file: file.path, reason: ModelLoading.describe(error))
    }
  }

  /// Writes the report into `folder` atomically, e.g. after measuring the speedup.
  public func write(into folder: URL) throws {
    try AtomicFile.write(try jsonData(), to: folder.appendingPathComponent(Self.fileName))
  }
}
