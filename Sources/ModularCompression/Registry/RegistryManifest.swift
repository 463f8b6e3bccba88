import Foundation
import JSONFormat
import Seq2SeqModels

/// `manifest.json` of a module registry: the teacher the modules were trained
/// against (by the SHA-256 of its weights) and one entry per module file.
///
/// ```json
/// {"format_version": 1, "teacher_fingerprint": "9f86d0…",
///  "teacher": {"model_type": "t5", "encoder_layers": 12, "decoder_layers": 12, "d_model": 128, "path": "teacher"},
///  "modules": [{"id": "encoder.g3.1", "stack": "encoder", "granularity": 3, "span": [3, 6],
///    "parameters": 131328, "file": "encoder.g3.1.safetensors", "sha256": "…",
///    "provenance": {"created": "2025-01-01T12:00:00Z", "steps": 3000, "seed": 0, "initialisation": "copy-first"},
///    "validation": {"loss": 0.41, "metric": 0.93, "metric_name": "exact_match"}}]}
/// ```
///
/// Reading is strict: an unknown field, a missing one or an invalid value is
/// a ``RegistryError/invalidManifest(file:field:reason:)`` naming the field.
public struct RegistryManifest: Codable, Sendable, Equatable {
  /// The only format this code reads and writes.
  public static let formatVersion = 1

  /// SHA-256 (hex) of the teacher's `model.safetensors`; see ``TeacherFingerprint``.
  public var teacherFingerprint: String
  public var teacher: TeacherSummary
  /// One entry per module, sorted by stack, granularity and index.
  public var modules: [ModuleEntry]
  /// The teacher's own score on the quality probe's data: the baseline of the modules' scores.
  public var teacherValidation: ModuleValidation?

  public init(
    teacherFingerprint: String, teacher: TeacherSummary, modules: [ModuleEntry] = [], teacherValidation: ModuleValidation? = nil
  ) {
    self.teacherFingerprint = teacherFingerprint
    self.teacher = teacher
    self.modules = modules
    self.teacherValidation = teacherValidation
  }

  /// The entry with module id `id`.
  public func entry(_ id: String) -> ModuleEntry? { modules.first { $0.id == id } }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case formatVersion = "format_version", teacherFingerprint = "teacher_fingerprint", teacher, modules
    case teacherValidation = "teacher_validation"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let version = try c.decode(Int.self, forKey: .formatVersion)
    guard version == Self.formatVersion else {
      throw DecodingError.dataCorruptedError(forKey: .formatVersion, in: c, debugDescription: "must be \(Self.formatVersion)")
    }
    teacherFingerprint = try c.decode(String.self, forKey: .teacherFingerprint)
    guard ManifestDecoding.isSHA256Hex(teacherFingerprint) else {
      throw DecodingError.dataCorruptedError(
        forKey: .teacherFingerprint, in: c, debugDescription: "expected 64 lower-case hex digits (a SHA-256)")
    }
    teacher = try c.decode(TeacherSummary.self, forKey: .teacher)
    modules = try c.decode([ModuleEntry].self, forKey: .modules)
    teacherValidation = try c.decodeIfPresent(ModuleValidation.self, forKey: .teacherValidation)
    var seen = Set<String>()
    for (index, module) in modules.enumerated() {
      let depth = module.stack == .encoder ? teacher.encoderLayers : teacher.decoderLayers
      var reason: String?
      if !seen.insert(module.id).inserted {
        reason = "module '\(module.id)' is listed twice"
      } else if module.span[1] > depth {
        reason = "span \(module.span) is outside the teacher's \(module.stack.rawValue) of \(depth) layers"
      }
      if let reason {
        let path = decoder.codingPath + [CodingKeys.modules, JSONKey(index: index)]
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: reason))
      }
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(Self.formatVersion, forKey: .formatVersion)
    try c.encode(teacherFingerprint, forKey: .teacherFingerprint)
    try c.encode(teacher, forKey: .teacher)
    try c.encode(modules, forKey: .modules)
    try c.encodeIfPresent(teacherValidation, forKey: .teacherValidation)
  }

  /// Parses manifest bytes; `file` names the manifest in errors. A format
  /// version other than ``formatVersion`` is refused before anything else.
  public static func decode(_ data: Data, file: String) throws -> RegistryManifest {
    let root: JSONValue
    do { root = try JSONValue.parse(data) } catch {
      throw RegistryError.invalidManifest(file: file, field: error.pathText, reason: error.description)
    }
    guard case .object = root else {
      throw RegistryError.invalidManifest(file: file, field: "", reason: "is not a JSON object")
    }
    if let version = root["format_version"]?.integerValue, version != formatVersion {
      throw RegistryError.unsupportedFormatVersion(file: file, version: version)
    }
    do {
      return try JSONDecoder().decode(RegistryManifest.self, from: data)
    } catch let error as DecodingError {
      let described = JSONFieldError(error, under: [])
      throw RegistryError.invalidManifest(file: file, field: described.path, reason: described.reason)
    }
  }

  /// The manifest as pretty-printed JSON with sorted keys and a final newline.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self) + Data("\n".utf8)
  }
}

/// What the registry records about its teacher (informative; the fingerprint is what is checked).
public struct TeacherSummary: Codable, Sendable, Equatable {
  /// `"t5"` or `"bart"`.
  public var modelType: String
  public var encoderLayers: Int
  public var decoderLayers: Int
  public var dModel: Int
  /// The teacher folder as the user gave it.
  public var path: String?

  public init(modelType: String, encoderLayers: Int, decoderLayers: Int, dModel: Int, path: String? = nil) {
    self.modelType = modelType
    self.encoderLayers = encoderLayers
    self.decoderLayers = decoderLayers
    self.dModel = dModel
    self.path = path
  }

  /// The summary of `model`, loaded from `path`.
  public init(model: any Seq2SeqModel, path: String? = nil) {
    self.init(
      modelType: model.modelType, encoderLayers: model.encoder.depth, decoderLayers: model.decoder.depth,
      dModel: model.modelWidth, path: path)
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case modelType = "model_type", encoderLayers = "encoder_layers", decoderLayers = "decoder_layers", dModel = "d_model"
    case path
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    modelType = try c.decode(String.self, forKey: .modelType)
    encoderLayers = try ManifestDecoding.positive(c, .encoderLayers)
    decoderLayers = try ManifestDecoding.positive(c, .decoderLayers)
    dModel = try ManifestDecoding.positive(c, .dModel)
    path = try c.decodeIfPresent(String.self, forKey: .path)
  }
}

/// One module of a registry: where it sits, its file and how it was made.
public struct ModuleEntry: Codable, Sendable, Equatable {
  // Only `validation` changes after a module is written; the rest is checked once, when built or decoded.
  /// The module's ``ModuleSpan/id`` (`encoder.g3.1`).
  public let id: String
  public let stack: StackRole
  public let granularity: Int
  /// `[start, end)` in teacher layers.
  public let span: [Int]
  /// Scalar parameters in the module.
  public let parameters: Int
  /// The weight file's name inside the registry folder.
  public let file: String
  /// SHA-256 (hex) of the weight file.
  public let sha256: String
  public let provenance: ModuleProvenance
  /// Filled by the quality probe; nil until it has run.
  public var validation: ModuleValidation?

  public init(
    span: ModuleSpan, parameters: Int, file: String, sha256: String, provenance: ModuleProvenance,
    validation: ModuleValidation? = nil
  ) {
    id = span.id
    stack = span.stack
    granularity = span.granularity
    self.span = [span.start, span.end]
    self.parameters = parameters
    self.file = file
    self.sha256 = sha256
    self.provenance = provenance
    self.validation = validation
  }

  /// The span this module replaces.
  public var moduleSpan: ModuleSpan { ModuleSpan(id: id)! }  // `id` is checked in both initialisers

  enum CodingKeys: String, CodingKey, CaseIterable {
    case id, stack, granularity, span, parameters, file, sha256, provenance, validation
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let id = try c.decode(String.self, forKey: .id)
    self.id = id
    guard let parsed = ModuleSpan(id: id) else {
      throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "'\(id)' is not a module id like encoder.g3.1")
    }
    let stack = try c.decode(StackRole.self, forKey: .stack)
    let granularity = try c.decode(Int.self, forKey: .granularity)
    let span = try c.decode([Int].self, forKey: .span)
    func mismatch(_ key: CodingKeys, _ expected: String) -> DecodingError {
      .dataCorruptedError(forKey: key, in: c, debugDescription: "does not match id '\(id)' (expected \(expected))")
    }
    guard stack == parsed.stack else { throw mismatch(.stack, parsed.stack.rawValue) }
    guard granularity == parsed.granularity else { throw mismatch(.granularity, String(parsed.granularity)) }
    guard span == [parsed.start, parsed.end] else { throw mismatch(.span, "[\(parsed.start), \(parsed.end)]") }
    (self.stack, self.granularity, self.span) = (stack, granularity, span)
    parameters = try c.decode(Int.self, forKey: .parameters)
    guard parameters > 0 else {
      throw DecodingError.dataCorruptedError(forKey: .parameters, in: c, debugDescription: "must be positive")
    }
    file = try c.decode(String.self, forKey: .file)
    guard ManifestDecoding.isPlainFileName(file) else {
      throw DecodingError.dataCorruptedError(
        forKey: .file, in: c, debugDescription: "'\(file)' must be a .safetensors file name inside the registry folder")
    }
    sha256 = try c.decode(String.self, forKey: .sha256)
    guard ManifestDecoding.isSHA256Hex(sha256) else {
      throw DecodingError.dataCorruptedError(forKey: .sha256, in: c, debugDescription: "expected 64 lower-case hex digits")
    }
    provenance = try c.decode(ModuleProvenance.self, forKey: .provenance)
    validation = try c.decodeIfPresent(ModuleValidation.self, forKey: .validation)
  }
}

/// How a module was trained, for reproducing it.
public struct ModuleProvenance: Codable, Sendable, Equatable {
  /// When the module was written, ISO 8601 (`2025-01-01T12:00:00Z`).
  public var created: String
  /// Training steps the module took part in.
  public var steps: Int
  public var seed: UInt64
  /// The recipe file, if one was used.
  public var recipe: String?
  /// The command line that trained the module.
  public var command: String?
  /// How the module started: `copy-first`, `copy-middle`, `copy-last`, `random`, …
  public var initialisation: String

  public init(
    created: Date = Date(), steps: Int, seed: UInt64, recipe: String? = nil, command: String? = nil,
    initialisation: String
  ) {
    self.created = ISO8601DateFormatter().string(from: created)
    self.steps = steps
    self.seed = seed
    self.recipe = recipe
    self.command = command
    self.initialisation = initialisation
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case created, steps, seed, recipe, command, initialisation
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    created = try c.decode(String.self, forKey: .created)
    guard ISO8601DateFormatter().date(from: created) != nil else {
      throw DecodingError.dataCorruptedError(
        forKey: .created, in: c, debugDescription: "'\(created)' is not an ISO 8601 date like 2025-01-01T12:00:00Z")
    }
    steps = try c.decode(Int.self, forKey: .steps)
    guard steps >= 0 else {
      throw DecodingError.dataCorruptedError(forKey: .steps, in: c, debugDescription: "must not be negative")
    }
    seed = try c.decode(UInt64.self, forKey: .seed)
    recipe = try c.decodeIfPresent(String.self, forKey: .recipe)
    command = try c.decodeIfPresent(String.self, forKey: .command)
    initialisation = try c.decode(String.self, forKey: .initialisation)
  }
}

/// A module's quality with only it swapped into the teacher (the quality probe's output).
public struct ModuleValidation: Codable, Sendable, Equatable {
  /// Validation cross-entropy.
  public var loss: Float?
  /// The task metric, e.g. exact match in [0, 1].
  public var metric: Float?
  /// The metric's name (`exact_match`, `bleu`, …).
  public var metricName: String?

  public init(loss: Float? = nil, metric: Float? = nil, metricName: String? = nil) {
    self.loss = loss
    self.metric = metric
    self.metricName = metricName
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case loss, metric, metricName = "metric_name"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    loss = try c.decodeIfPresent(Float.self, forKey: .loss)
    metric = try c.decodeIfPresent(Float.self, forKey: .metric)
    metricName = try c.decodeIfPresent(String.self, forKey: .metricName)
    for (key, value) in [(CodingKeys.loss, loss), (.metric, metric)] where value.map({ !$0.isFinite }) ?? false {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be a finite number")
    }
  }
}

/// Strict-decoding helpers shared by the manifest's types.
enum ManifestDecoding {
  static func positive<Keys: CodingKey>(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> Int {
    let value = try c.decode(Int.self, forKey: key)
    guard value > 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be positive") }
    return value
  }

  static func isSHA256Hex(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }

  /// A file name without folders that names a safetensors file.
  static func isPlainFileName(_ name: String) -> Bool {
    !name.contains("/") && !name.contains("\\") && !name.hasPrefix(".") && name.hasSuffix(".safetensors")
  }
}
