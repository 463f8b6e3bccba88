import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// A teacher training recipe: the model's `config.json` fields, the training
/// settings and the data. Every part is optional; flags override it.
///
/// ```json
/// {"model": {"model_type": "t5", "d_model": 128, "num_layers": 12, …},
///  "training": {"steps": 3000, "learning_rate": 0.002, …},
///  "data": {"task": "arithmetic", "train_examples": 20000, "batch_tokens": 4096}}
/// ```
public struct TeacherRecipe: Sendable {
  /// `config.json` fields of the model (`model_type` t5 or bart).
  public var model: [String: JSONValue]
  public var training: TrainingParameters
  public var data: DatasetSpec

  public init(model: [String: JSONValue] = [:], training: TrainingParameters = TrainingParameters(), data: DatasetSpec = DatasetSpec()) {
    self.model = model
    self.training = training
    self.data = data
  }

  /// Reads a recipe file; errors name the file and the field.
  public static func load(from url: URL) throws -> TeacherRecipe {
    let file = try RecipeFile(url: url, parts: ["model", "training", "data"])
    var recipe = TeacherRecipe()
    recipe.model = try file.part("model", [String: JSONValue].self) ?? [:]
    recipe.training = try file.part("training", TrainingParameters.self) ?? recipe.training
    recipe.data = try file.part("data", DatasetSpec.self) ?? recipe.data
    return recipe
  }

  /// The model this recipe describes, sized for `tokenizer`'s vocabulary and
  /// special tokens unless the recipe sets them.
  public func makeModel(tokenizer: any TextTokenizer, seed: UInt64) throws -> any Seq2SeqModel {
    var fields = TeacherRecipe.defaultModel
    for (key, value) in model { fields[key] = value }
    let specials = tokenizer.specials
    let isBart = fields["model_type"] == .string("bart")
    let tokenDefaults: [String: JSONValue] = [
      "vocab_size": .number(Double(tokenizer.vocabularySize)), "pad_token_id": .number(Double(specials.padID)),
      "eos_token_id": .number(Double(specials.eosID)),
      "decoder_start_token_id": .number(Double(isBart ? specials.eosID : specials.padID)),
    ]
    for (key, value) in tokenDefaults where model[key] == nil { fields[key] = value }
    if isBart { for key in TeacherRecipe.t5OnlyKeys where model[key] == nil { fields[key] = nil } }
    let data = try JSONEncoder().encode(fields)
    return try ModelLoading.makeModel(configuration: data, source: "recipe model", seed: seed)
  }

  /// A 12+12-layer, 128-wide T5: good on the built-in tasks after minutes on a laptop.
  public static let defaultModel: [String: JSONValue] = [
    "model_type": .string("t5"), "d_model": .number(128), "d_kv": .number(32), "d_ff": .number(256),
    "num_heads": .number(4), "num_layers": .number(12), "num_decoder_layers": .number(12),
    "relative_attention_num_buckets": .number(32), "relative_attention_max_distance": .number(64),
    "dropout_rate": .number(0.1), "feed_forward_proj": .string("relu"), "tie_word_embeddings": .bool(true),
  ]
  static let t5OnlyKeys = Array(defaultModel.keys.filter { $0 != "model_type" })
}

/// A recipe file's top-level JSON object, read part by part; unknown parts are refused.
struct RecipeFile {
  let url: URL
  let root: [String: Any]

  init(url: URL, parts: [String]) throws {
    self.url = url
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw RecipeError(file: url.path, reason: "cannot be read") }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw RecipeError(file: url.path, reason: "is not a JSON object")
    }
    if let unknown = root.keys.sorted().first(where: { !(parts + ["description"]).contains($0) }) {
      throw RecipeError(file: url.path, reason: "unknown field '\(unknown)'; expected \(parts.joined(separator: ", "))")
    }
    self.root = root
  }

  /// The part under `key` decoded as `T`, nil when absent; errors name the part and field.
  func part<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
    guard let value = root[key] else { return nil }
    do {
      return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed))
    } catch let error as DecodingError {
      throw RecipeError(file: url.path, reason: "\(key): \(ModelLoading.describe(error))")
    }
  }
}

/// A recipe file that cannot be used.
public struct RecipeError: Error, CustomStringConvertible {
  public let file: String
  public let reason: String
  public var description: String { "\(file): \(reason)" }
}

/// A JSON value, for recipe parts passed through to `config.json`.
public enum JSONValue: Codable, Sendable, Equatable {
  case string(String), number(Double), bool(Bool), null
  case array([JSONValue]), object([String: JSONValue])

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let b = try? c.decode(Bool.self) { self = .bool(b) }
    else if let n = try? c.decode(Double.self) { self = .number(n) }
    else if let s = try? c.decode(String.self) { self = .string(s) }
    else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
    else { self = .object(try c.decode([String: JSONValue].self)) }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .string(let s): try c.encode(s)
    case .number(let n): if n == n.rounded() && abs(n) < 1e15 { try c.encode(Int(n)) } else { try c.encode(n) }
    case .bool(let b): try c.encode(b)
    case .null: try c.encodeNil()
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }
}
