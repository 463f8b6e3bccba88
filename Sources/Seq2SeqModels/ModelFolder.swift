import Foundation
import NeuralLayers
import TensorCore
import Tokenizers

/// A model folder that cannot be read.
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case invalidConfiguration(file: String, reason: String)
  case unknownModelType(file: String, modelType: String)
  case tiedWeightDiffers(file: String, key: String, sharedKey: String)

  public var description: String {
    switch self {
    case .missingFile(let path): "model folder is missing \(path)"
    case .invalidConfiguration(let file, let reason): "\(file): \(reason)"
    case .unknownModelType(let file, let type): "\(file): unknown model_type '\(type)'; Tessera reads 't5' and 'bart'"
    case .tiedWeightDiffers(let file, let key, let shared):
      "\(file): '\(key)' should be tied to '\(shared)' but holds different values"
    }
  }
}

/// Reading Hugging Face style model folders (`config.json`, `model.safetensors`).
public enum ModelLoading {
  /// Loads and validates the model in `folder`. Loading is strict: every
  /// weight the model needs must be present with its shape, and no other.
  public static func load(from folder: URL) throws -> any Seq2SeqModel {
    let configURL = folder.appendingPathComponent("config.json")
    let weightsURL = folder.appendingPathComponent("model.safetensors")
    for url in [configURL, weightsURL] where !FileManager.default.fileExists(atPath: url.path) {
      throw ModelFolderError.missingFile(url.path)
    }
    let configData = try Data(contentsOf: configURL)
    let model = try makeModel(configuration: configData, source: configURL.path)
    let weights = try SafeTensorsFile.readWeights(from: weightsURL).tensors
    try model.loadStateDictionary(model.sanitize(weights: weights, source: weightsURL.path), source: weightsURL.path)
    return model
  }

  /// Builds an untrained model from `config.json` bytes.
  public static func makeModel(configuration data: Data, source: String, seed: UInt64 = 0) throws -> any Seq2SeqModel {
    let object: Any
    do { object = try JSONSerialization.jsonObject(with: data) } catch {
      throw ModelFolderError.invalidConfiguration(file: source, reason: "invalid JSON (\(error.localizedDescription))")
    }
    guard let dictionary = object as? [String: Any] else {
      throw ModelFolderError.invalidConfiguration(file: source, reason: "expected a JSON object")
    }
    let modelType = dictionary["model_type"] as? String ?? "(none)"
    var generator = SeededRandom(seed: seed)
    do {
      switch modelType {
      case "t5": return T5Model(try JSONDecoder().decode(T5Configuration.self, from: data), using: &generator)
      case "bart": return BartModel(try JSONDecoder().decode(BartConfiguration.self, from: data), using: &generator)
      default: throw ModelFolderError.unknownModelType(file: source, modelType: modelType)
      }
    } catch let error as DecodingError {
      throw ModelFolderError.invalidConfiguration(file: source, reason: describe(error))
    }
  }

  /// Sets `model`'s weights from checkpoint tensors with reference key names;
  /// a NaN or infinite value is refused naming its tensor.
  public static func load(_ weights: [String: Tensor], into model: any Seq2SeqModel, source: String) throws {
    try SafeTensorsFile.requireFinite(weights, source: source)
    try model.loadStateDictionary(model.sanitize(weights: weights, source: source), source: source)
  }

  /// Removes `key` when it is a tied copy of `sharedKey`; a copy that differs is an error.
  static func dropTiedCopy(_ weights: inout [String: Tensor], key: String, of sharedKey: String, source: String) throws {
    guard let copy = weights[key] else { return }
    if let shared = weights[sharedKey], copy.shape != shared.shape || copy.scalars != shared.scalars {
      throw ModelFolderError.tiedWeightDiffers(file: source, key: key, sharedKey: sharedKey)
    }
    if weights[sharedKey] == nil { weights[sharedKey] = copy }
    weights[key] = nil
  }

  /// "field 'd_model': must be positive" from a decoding error.
  public static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      context.codingPath.map(\.stringValue).joined(separator: ".")
    }
    switch error {
    case .dataCorrupted(let context): return "field '\(path(context))': \(context.debugDescription)"
    case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
    case .typeMismatch(_, let context): return "field '\(path(context))' has the wrong type: \(context.debugDescription)"
    case .valueNotFound(_, let context): return "field '\(path(context))' is null"
    @unknown default: return String(describing: error)
    }
  }
}

/// Writes `config.json` in the reference's shape.
enum ModelConfigurationWriter {
  /// `floatKeys` are written with a decimal point (`1.0`, not `1`): the
  /// reference validates their type when it loads the file.
  static func json(_ configuration: some Encodable, architecture: String, floatKeys: [String]) throws -> Data {
    let encoded = try JSONEncoder().encode(configuration)
    guard var dictionary = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
      preconditionFailure("a configuration encodes to a JSON object")
    }
    dictionary["architectures"] = [architecture]
    dictionary["is_encoder_decoder"] = true
    var text = String(decoding: try JSONSerialization.data(withJSONObject: dictionary, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    for key in floatKeys {
      // "key" : 1  →  "key" : 1.0
      text = text.replacingOccurrences(
        of: "(\"\(key)\" ?: ?-?[0-9]+)(?=[,\n }])", with: "$1.0", options: .regularExpression)
    }
    return Data(text.utf8)
  }
}

/// Writing model folders that Hugging Face tools read.
public enum ModelExport {
  /// Writes `config.json`, `model.safetensors`, the tokenizer's files and any
  /// `extraFiles` into `folder`. Files are built in a temporary sibling folder
  /// and swapped in at the end, so a failure never leaves a half-written model.
  public static func save(
    _ model: any Seq2SeqModel, to folder: URL, tokenizer: (any TextTokenizer)? = nil, extraFiles: [String: Data] = [:],
    metadata: [String: String] = [:]
  ) throws {
    let fileManager = FileManager.default
    let parent = folder.deletingLastPathComponent()
    try fileManager.createDirectory(at: parent, withIntermediateDirectories: true)
    let staging = parent.appendingPathComponent(".\(folder.lastPathComponent).partial-\(UUID().uuidString)")
    try fileManager.createDirectory(at: staging, withIntermediateDirectories: true)
    do {
      try model.configurationJSON().write(to: staging.appendingPathComponent("config.json"))
      var fileMetadata = metadata
      fileMetadata["format"] = "pt"
      try SafeTensorsFile(tensors: model.checkpointTensors(), metadata: fileMetadata)
        .write(to: staging.appendingPathComponent("model.safetensors"))
      try tokenizer?.save(to: staging)
      for (name, data) in extraFiles { try data.write(to: staging.appendingPathComponent(name)) }
      try replaceDirectory(folder, with: staging)
    } catch {
      try? fileManager.removeItem(at: staging)
      throw error
    }
  }

  /// Moves `staging` to `target`, replacing an existing folder only after the new one is complete.
  static func replaceDirectory(_ target: URL, with staging: URL) throws {
    let fileManager = FileManager.default
    if fileManager.fileExists(atPath: target.path) {
      let old = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).old-\(UUID().uuidString)")
      try fileManager.moveItem(at: target, to: old)
      do { try fileManager.moveItem(at: staging, to: target) } catch {
        try? fileManager.moveItem(at: old, to: target)
        throw error
      }
      try? fileManager.removeItem(at: old)
    } else {
      try fileManager.moveItem(at: staging, to: target)
    }
  }
}
