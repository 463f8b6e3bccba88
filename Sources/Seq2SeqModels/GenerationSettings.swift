import Foundation
import JSONFormat
import TensorCore

/// The generation settings a checkpoint carries: its `generation_config.json`,
/// or, in folders without one, the generation fields of an older `config.json`
/// (the reference reads the same two places, in that order). Only the fields
/// present are set; `null` means absent, as the reference writes it. Sampling
/// fields (`do_sample`, `temperature`, `top_k`, …) are not read: Tessera
/// decodes greedily or with beams.
public struct GenerationSettings: Sendable, Equatable {
  public static let fileName = "generation_config.json"

  /// The file the settings came from, named in errors.
  public var source: String
  public var decoderStartTokenID: Int?
  /// Read and checked only: an encoder-decoder's output starts with `decoderStartTokenID`.
  public var bosTokenID: Int?
  public var eosTokenID: Int?
  public var padTokenID: Int?
  public var forcedBOSTokenID: Int?
  public var forcedEOSTokenID: Int?
  /// Total decoder length, the decoder start token included.
  public var maxLength: Int?
  public var maxNewTokens: Int?
  /// Like `maxLength`, counts the decoder start token.
  public var minLength: Int?
  public var minNewTokens: Int?
  public var numBeams: Int?
  public var lengthPenalty: Float?
  public var earlyStopping: EarlyStopping?
  public var noRepeatNgramSize: Int?
  public var repetitionPenalty: Float?

  public init(source: String) { self.source = source }

  /// The settings of the model folder `folder`: `generation_config.json` when
  /// it exists, else the generation fields of `config.json` (nil without either file).
  public static func read(folder: URL) throws -> GenerationSettings? {
    for name in [fileName, "config.json"] {
      let url = folder.appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: url.path) { return try parse(FileAccess.read(url), source: url.path) }
    }
    return nil
  }

  /// Parses the fields of a `generation_config.json` (or `config.json`);
  /// every other key is ignored. A value of the wrong kind or out of range is
  /// a ``GenerationSettingsError`` naming `source` and the key.
  public static func parse(_ data: Data, source: String) throws -> GenerationSettings {
    let value: JSONValue
    do { value = try JSONValue.parse(data) } catch {
      throw GenerationSettingsError(file: source, key: nil, reason: "invalid JSON, \(error.description)")
    }
    guard case .object = value else { throw GenerationSettingsError(file: source, key: nil, reason: "expected a JSON object") }
    let fields = FieldReader(object: value, source: source)
    var settings = GenerationSettings(source: source)
    settings.decoderStartTokenID = try fields.tokenID("decoder_start_token_id")
    settings.bosTokenID = try fields.tokenID("bos_token_id")
    settings.eosTokenID = try fields.tokenID("eos_token_id")
    settings.padTokenID = try fields.tokenID("pad_token_id")
    settings.forcedBOSTokenID = try fields.tokenID("forced_bos_token_id")
    settings.forcedEOSTokenID = try fields.tokenID("forced_eos_token_id")
    settings.maxLength = try fields.integer("max_length", atLeast: 1)
    settings.maxNewTokens = try fields.integer("max_new_tokens", atLeast: 0)
    settings.minLength = try fields.integer("min_length", atLeast: 0)
    settings.minNewTokens = try fields.integer("min_new_tokens", atLeast: 0)
    settings.numBeams = try fields.integer("num_beams", atLeast: 1)
    settings.noRepeatNgramSize = try fields.integer("no_repeat_ngram_size", atLeast: 0)
    settings.lengthPenalty = try fields.number("length_penalty") { $0.isFinite ? nil : "must be a finite number" }
    settings.repetitionPenalty = try fields.number("repetition_penalty") { $0.isFinite && $0 > 0 ? nil : "must be a number > 0" }
    settings.earlyStopping = try fields.earlyStopping("early_stopping")
    return settings
  }

  /// Sets the fields of `options` these settings give, checked against
  /// `model` (token ids inside its vocabulary). Lengths follow the
  /// reference: `max_new_tokens` wins over `max_length − 1`, `min_new_tokens`
  /// over `min_length − 1`; without either, `options` keeps its length (20 new
  /// tokens by default, as the reference's).
  public func apply(to options: inout GenerationOptions, model: any Seq2SeqModel) throws {
    for (key, id) in [
      ("decoder_start_token_id", decoderStartTokenID), ("bos_token_id", bosTokenID), ("eos_token_id", eosTokenID),
      ("pad_token_id", padTokenID), ("forced_bos_token_id", forcedBOSTokenID), ("forced_eos_token_id", forcedEOSTokenID),
    ] {
      if let id, id >= model.vocabularySize {
        throw GenerationSettingsError(file: source, key: key, reason: "token id \(id) is outside the vocabulary 0..<\(model.vocabularySize)")
      }
    }
    if let numBeams, numBeams > model.vocabularySize {
      throw GenerationSettingsError(file: source, key: "num_beams", reason: "\(numBeams) beams exceed the \(model.vocabularySize)-token vocabulary")
    }
    var tokens = model.specialTokens
    tokens.decoderStart = decoderStartTokenID ?? tokens.decoderStart
    tokens.eos = eosTokenID ?? tokens.eos
    tokens.pad = padTokenID ?? tokens.pad
    options.specialTokens = tokens
    options.forcedTokens = .custom(bos: forcedBOSTokenID, eos: forcedEOSTokenID)
    if let length = maxNewTokens ?? maxLength.map({ $0 - 1 }) {
      if let limit = model.positionLimit, length > limit {
        throw GenerationSettingsError(
          file: source, key: maxNewTokens != nil ? "max_new_tokens" : "max_length",
          reason: "\(length) new tokens need more than the model's \(limit) positions (max_position_embeddings)")
      }
      options.maxNewTokens = length
    }
    if let minNewTokens {
      options.minNewTokens = minNewTokens
    } else if let minLength {
      options.minNewTokens = max(minLength - 1, 0)
    }
    options.numBeams = numBeams ?? options.numBeams
    options.lengthPenalty = lengthPenalty ?? options.lengthPenalty
    options.earlyStopping = earlyStopping ?? options.earlyStopping
    options.noRepeatNgramSize = noRepeatNgramSize ?? options.noRepeatNgramSize
    options.repetitionPenalty = repetitionPenalty ?? options.repetitionPenalty
  }
}

/// A generation setting that cannot be used, named by its file and key.
public struct GenerationSettingsError: Error, CustomStringConvertible, Equatable, Sendable {
  public var file: String
  /// The JSON key; nil when the whole file is unusable.
  public var key: String?
  public var reason: String

  public var description: String { key.map { "\(file): field '\($0)': \(reason)" } ?? "\(file): \(reason)" }
}

/// Reads typed fields of one JSON object, naming the key in errors.
private struct FieldReader {
  let object: JSONValue
  let source: String

  func fail(_ key: String, _ reason: String) -> GenerationSettingsError {
    GenerationSettingsError(file: source, key: key, reason: reason)
  }

  /// The value under `key`, nil when absent or null.
  func present(_ key: String) -> JSONValue? {
    if case .null? = object[key] { return nil }
    return object[key]
  }

  func integer(_ key: String, atLeast minimum: Int) throws -> Int? {
    guard let value = present(key) else { return nil }
    guard let number = value.integerValue else { throw fail(key, "expected an integer, found \(value.jsonText)") }
    guard number >= minimum else { throw fail(key, "must be at least \(minimum), got \(number)") }
    guard number <= ConfigurationChecks.largestSize else { throw fail(key, "\(number) is too large") }
    return number
  }

  /// A token id; a list (several end-of-sequence ids) must hold exactly one.
  func tokenID(_ key: String) throws -> Int? {
    guard let value = present(key) else { return nil }
    if case .array(let items) = value {
      guard items.count == 1, let id = items[0].integerValue, id >= 0 else {
        throw fail(key, "expected one token id, found \(value.jsonText); Tessera stops on a single id")
      }
      return id
    }
    guard let id = value.integerValue, id >= 0 else { throw fail(key, "expected a token id (an integer ≥ 0), found \(value.jsonText)") }
    return id
  }

  func number(_ key: String, check: (Float) -> String?) throws -> Float? {
    guard let value = present(key) else { return nil }
    guard case .number(let number) = value else { throw fail(key, "expected a number, found \(value.jsonText)") }
    if let problem = check(Float(number)) { throw fail(key, "\(problem), got \(value.jsonText)") }
    return Float(number)
  }

  func earlyStopping(_ key: String) throws -> EarlyStopping? {
    switch present(key) {
    case nil: nil
    case .bool(let flag)?: flag ? .whenBeamsFinished : .heuristic
    case .string("never")?: .never
    case let other?: throw fail(key, "expected true, false or \"never\", found \(other.jsonText)")
    }
  }
}
