import Foundation
import NeuralLayers
import TensorCore
import Tokenizers

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
