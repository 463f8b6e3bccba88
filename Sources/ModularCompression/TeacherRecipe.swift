import Foundation
import JSONFormat
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
  /// Names the model part in errors (the recipe file, once loaded from one).
  public var modelSource = "recipe model"

  public init(model: [String: JSONValue] = [:], training: TrainingParameters = TrainingParameters(), data: DatasetSpec = DatasetSpec()) {
    self.model = model
    self.training = training
    self.data = data
  }

  /// Reads a recipe file; errors name the file and the field.
  public static func load(from url: URL) throws -> TeacherRecipe {
    let file = try RecipeFile(url: url, parts: ["model", "training", "data"])
    var recipe = TeacherRecipe()
    // Any config.json field is allowed here; `makeModel` checks names and types.
    recipe.model = try file.object("model") ?? [:]
    recipe.modelSource = "\(url.path) (field 'model')"
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
    return try ModelLoading.makeModel(configuration: data, source: modelSource, seed: seed)
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
