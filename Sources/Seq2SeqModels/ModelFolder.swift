import Foundation
import JSONFormat
import NeuralLayers
import TensorCore
import Tokenizers

/// A model folder that cannot be read.
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case invalidConfiguration(file: String, reason: String)
  case unknownModelType(file: String, modelType: String)
  case tiedWeightDiffers(file: String, key: String, sharedKey: String)
  /// `model.safetensors.index.json` is malformed or names a shard that is not there.
  case invalidShardIndex(file: String, reason: String)
  /// The index puts `key` in `shard`, which does not hold it.
  case missingShardTensor(index: String, key: String, shard: String)
  /// `shard` holds `key`, which the index does not list for it.
  case unlistedShardTensor(shard: String, key: String, index: String)

  public var description: String {
    switch self {
    case .missingFile(let path): "model folder is missing \(path)"
    case .invalidConfiguration(let file, let reason): "\(file): \(reason)"
    case .unknownModelType(let file, let type): "\(file): unknown model_type '\(type)'; Tessera reads 't5', 'mt5', 'bart' and 'mbart'"
    case .tiedWeightDiffers(let file, let key, let shared):
      "\(file): '\(key)' should be tied to '\(shared)' but holds different values"
    case .invalidShardIndex(let file, let reason): "\(file): \(reason)"
    case .missingShardTensor(let index, let key, let shard): "\(index): tensor '\(key)' is not in its shard \(shard)"
    case .unlistedShardTensor(let shard, let key, let index): "\(shard): tensor '\(key)' is not listed for this shard in \(index)"
    }
  }
}

/// Reading Hugging Face style model folders (`config.json`, and
/// `model.safetensors` or shards with `model.safetensors.index.json`).
public enum ModelLoading {
  /// Loads and validates the model in `folder`. Loading is strict: every
  /// weight the model needs must be present with its shape, and no other.
  public static func load(from folder: URL) throws -> any Seq2SeqModel {
    let configURL = folder.appendingPathComponent("config.json")
    guard FileManager.default.fileExists(atPath: configURL.path) else { throw ModelFolderError.missingFile(configURL.path) }
    guard CheckpointFiles.hasWeights(in: folder) else {
      throw ModelFolderError.missingFile(folder.appendingPathComponent(CheckpointFiles.singleFileName).path)
    }
    let configData = try FileAccess.read(configURL)
    let model = try makeModel(configuration: configData, source: configURL.path)
    let configuration = try JSONValue.parse(configData)
    if let lowRank = configuration[LowRankCompression.sectionKey] {
      try LowRankCompression.install(lowRank, into: model, configFile: configURL.path)
    }
    if let autoencoded = configuration[AutoencodedCompression.sectionKey] {
      try AutoencodedCompression.install(autoencoded, into: model, configFile: configURL.path)
    }
    let section = configuration[ModelQuantization.sectionKey]
    var int8Names = try section.map { try ModelQuantization.int8WeightNames($0, model: model, configFile: configURL.path) } ?? []
    let pruning = configuration[SparseWeightStorage.sectionKey]
    var maskNames: Set<String> = []
    if let pruning {
      let names = try SparseWeightStorage.integerNames(pruning, model: model, configFile: configURL.path, int8Weights: int8Names)
      (maskNames, int8Names) = (names.uint8, int8Names.union(names.int8))
    }
    var (weights, source) = try CheckpointFiles.readWeights(in: folder, int8Names: int8Names, uint8Names: maskNames)
    if let pruning {
      weights = try SparseWeightStorage.install(pruning, weights: weights, into: model, source: source, configFile: configURL.path)
    }
    if let section {
      weights = try ModelQuantization.install(section, weights: weights, into: model, source: source, configFile: configURL.path)
    }
    if let compressed = configuration[EmbeddingCompression.sectionKey] {
      weights = try EmbeddingCompression.install(compressed, weights: weights, into: model, source: source, configFile: configURL.path)
    }
    try model.loadStateDictionary(model.sanitize(weights: weights, source: source), source: source)
    return model
  }

  /// An independent copy of `model` (dense: quantized layers come back as
  /// their dequantized weights), through its configuration and checkpoint tensors.
  public static func copy(of model: any Seq2SeqModel) throws -> any Seq2SeqModel {
    let copy = try makeModel(configuration: model.configurationJSON(), source: "a model copy")
    try copy.loadStateDictionary(copy.sanitize(weights: model.checkpointTensors(), source: "a model copy"), source: "a model copy")
    return copy
  }

  /// Builds an untrained model from `config.json` bytes.
  public static func makeModel(configuration data: Data, source: String, seed: UInt64 = 0) throws -> any Seq2SeqModel {
    let object: JSONValue
    do { object = try JSONValue.parse(data) } catch {
      throw ModelFolderError.invalidConfiguration(file: source, reason: "invalid JSON, \(error.description)")
    }
    guard case .object = object else {
      throw ModelFolderError.invalidConfiguration(file: source, reason: "expected a JSON object")
    }
    var modelType = "(none)"
    if case .string(let name) = object["model_type"] { modelType = name }
    var generator = SeededRandom(seed: seed)
    do {
      switch modelType {
      case "t5", "mt5": return T5Model(try JSONDecoder().decode(T5Configuration.self, from: data), using: &generator)
      case "bart", "mbart": return BartModel(try JSONDecoder().decode(BartConfiguration.self, from: data), using: &generator)
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
    JSONFieldError(error, under: []).description
  }
}
