import Foundation
import JSONFormat
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
  /// and swapped in at the end (``AtomicFolder``), so a failure or a kill never
  /// leaves a half-written model and never loses the previous one.
  /// `configSections` are added to `config.json` as top-level members (a transform chain).
  public static func save(
    _ model: any Seq2SeqModel, to folder: URL, tokenizer: (any TextTokenizer)? = nil, extraFiles: [String: Data] = [:],
    metadata: [String: String] = [:], format: WeightFileFormat = WeightFileFormat(), configSections: [(String, JSONValue)] = []
  ) throws {
    try writeFolder(folder) { staging in
      try writeModelFiles(model, into: staging, tokenizer: tokenizer, metadata: metadata, format: format, configSections: configSections)
      for (name, data) in extraFiles { try AtomicFile.write(data, to: staging.appendingPathComponent(name)) }
    }
  }

  /// Writes `config.json`, the weights (`model.safetensors`, or shards and
  /// their index, see ``WeightFileFormat``) and the tokenizer's files into
  /// the folder being built (no swap: see ``writeFolder(_:fill:)``).
  public static func writeModelFiles(
    _ model: any Seq2SeqModel, into folder: URL, tokenizer: (any TextTokenizer)?, metadata: [String: String] = [:],
    format: WeightFileFormat = WeightFileFormat(), configSections: [(String, JSONValue)] = []
  ) throws {
    var fileMetadata = metadata
    fileMetadata["format"] = "pt"
    let sections = format.dense ? [] : storedFormSections(of: model)
    try AtomicFile.write(configurationJSON(of: model, adding: sections + configSections), to: folder.appendingPathComponent("config.json"))
    if sections.isEmpty {
      try CheckpointFiles.write(model.checkpointTensors(), metadata: fileMetadata, into: folder, format: format)
    } else {
      // Quantized layers keep their stored form (I8 + scales, or BF16), low-rank ones and a compressed
      // embedding their factors, pruned ones their masks and kept values.
      let (quantized, quantizedTypes) = ModelQuantization.checkpointTensors(of: model)
      let factorised = EmbeddingCompression.checkpointTensors(of: model, from: LowRankCompression.checkpointTensors(of: model, from: quantized))
      let (tensors, dtypes) = SparseWeightStorage.checkpointTensors(of: model, from: factorised, dtypes: quantizedTypes)
      try CheckpointFiles.write(tensors, metadata: fileMetadata, into: folder, format: format, dtypes: dtypes)
    }
    try tokenizer?.save(to: folder)
  }

  /// The `config.json` members that say how layers are stored when not dense.
  static func storedFormSections(of model: any Seq2SeqModel) -> [(String, JSONValue)] {
    [
      ModelQuantization.section(of: model).map { (ModelQuantization.sectionKey, $0) },
      LowRankCompression.section(of: model).map { (LowRankCompression.sectionKey, $0) },
      AutoencodedCompression.section(of: model).map { (AutoencodedCompression.sectionKey, $0) },
      SparseWeightStorage.section(of: model).map { (SparseWeightStorage.sectionKey, $0) },
      EmbeddingCompression.section(of: model).map { (EmbeddingCompression.sectionKey, $0) },
    ].compactMap { $0 }
  }

  /// `config.json` bytes of `model` with `sections` added as top-level members.
  public static func configurationJSON(of model: any Seq2SeqModel, adding sections: [(String, JSONValue)]) throws -> Data {
    let plain = try model.configurationJSON()
    guard !sections.isEmpty else { return plain }
    var text = String(decoding: plain, as: UTF8.self)
    guard let close = text.lastIndex(of: "}") else { return plain }
    let members = sections.map { ",\n  \(JSONString.quoted($0.0)) : \($0.1.jsonText)" }.joined()
    text.replaceSubrange(close...close, with: members + "\n}")
    return Data(text.utf8)
  }

  /// The `generation_config.json` of `folder`, checked against `model`, to
  /// carry into a folder made from it (empty when there is none), so that a
  /// converted or compressed model generates as its source did.
  public static func generationConfigCopy(from folder: URL?, for model: any Seq2SeqModel) throws -> [String: Data] {
    guard let url = folder?.appendingPathComponent(GenerationSettings.fileName),
      FileManager.default.fileExists(atPath: url.path)
    else { return [:] }
    let data = try FileAccess.read(url)
    var options = GenerationOptions()
    try GenerationSettings.parse(data, source: url.path).apply(to: &options, model: model)
    return [GenerationSettings.fileName: data]
  }

  /// Builds a folder with `fill` in a staging folder beside `folder`, then
  /// swaps it in whole; on failure the staging folder is removed and `folder`
  /// is left as it was.
  public static func writeFolder(_ folder: URL, fill: (URL) throws -> Void) throws {
    let fileManager = FileManager.default
    try fileManager.createDirectory(at: folder.deletingLastPathComponent(), withIntermediateDirectories: true)
    let staging = AtomicFolder.stagingURL(for: folder)
    try fileManager.createDirectory(at: staging, withIntermediateDirectories: true)
    do {
      try fill(staging)
      try AtomicFolder.replace(folder, with: staging)
    } catch {
      try? fileManager.removeItem(at: staging)
      throw error
    }
  }
}
