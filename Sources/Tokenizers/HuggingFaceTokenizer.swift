import Foundation
import JSONFormat

/// A Hugging Face file beside `tokenizer.json` that names special tokens.
struct ConfigFile: Sendable {
  /// The files read, in the order their names are trusted.
  static let names = [tokenizerConfigFileName, "special_tokens_map.json"]

  var name: String
  var data: Data
  var source: String
}

/// A tokenizer read from a Hugging Face `tokenizer.json`: a Unigram model
/// (T5) or a BPE model (BART, byte-level), with the normalizer,
/// pre-tokenizer, post-processor, decoder and added tokens the file asks for.
///
/// Encoding follows the `tokenizers` library step by step: added tokens are
/// cut out of the raw text, each remaining part is normalized (then searched
/// for normalized added tokens), pre-tokenized, and passed to the model; the
/// post-processor adds the special tokens.
public struct HuggingFaceTokenizer: TextTokenizer {
  enum Model: Sendable {
    case unigram(UnigramModel)
    case bpe(BPEModel)
  }

  public let vocabularySize: Int
  public let specials: TokenizerSpecials
  public let specialTokenCount: Int
  /// `"Unigram"` or `"BPE"`.
  public let modelType: String

  let model: Model
  private let normalizer: TextNormalizer?
  private let preTokenizer: PreTokenizer?
  private let postProcessor: PostProcessor?
  private let decoder: TokenDecoder?
  private let rawAddedTokens: AddedTokenMatcher
  private let normalizedAddedTokens: AddedTokenMatcher
  private let addedTokenOfID: [Int: String]
  private let idOfAddedToken: [[UInt8]: Int]
  /// Ids whose token is a special added token, skipped by `decode` on request.
  private let specialIDs: Set<Int>
  /// The files as read, written back unchanged by `save(to:)`.
  private let tokenizerJSON: Data
  private let configFiles: [ConfigFile]

  /// Reads `tokenizer.json` from `folder`, and the special-token names from
  /// `tokenizer_config.json` and `special_tokens_map.json` where present.
  public init(folder: URL) throws {
    let tokenizerURL = folder.appendingPathComponent(tokenizerFileName)
    let data = try readTokenizerFile(tokenizerURL)
    var configFiles: [ConfigFile] = []
    for name in ConfigFile.names {
      let url = folder.appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: url.path) {
        configFiles.append(ConfigFile(name: name, data: try readTokenizerFile(url), source: url.path))
      }
    }
    try self.init(tokenizerJSON: data, source: tokenizerURL.path, configFiles: configFiles)
  }

  /// Reads a `tokenizer.json` held in memory; `config` is the content of a
  /// `tokenizer_config.json` naming the special tokens, if there is one.
  /// `source` names the file in error messages.
  public init(tokenizerJSON data: Data, source: String = tokenizerFileName, config: (data: Data, source: String)? = nil)
    throws
  {
    let configFiles = config.map { [ConfigFile(name: tokenizerConfigFileName, data: $0.data, source: $0.source)] }
    try self.init(tokenizerJSON: data, source: source, configFiles: configFiles ?? [])
  }

  init(tokenizerJSON data: Data, source: String, configFiles: [ConfigFile]) throws {
    let root = JSONField(root: try JSONValue.parse(data, source: source), file: source)
    let modelField = root["model"]
    if modelField.isAbsent { throw modelField.error("missing (expected the tokenizer's model)") }
    let type = try Self.modelType(modelField)
    switch type {
    case "Unigram": model = .unigram(try UnigramModel(modelField))
    case "BPE": model = .bpe(try BPEModel(modelField))
    default:
      throw modelField["type"].error("unsupported model type \"\(type)\" (supported: Unigram, BPE)")
    }
    modelType = type
    normalizer = root["normalizer"].isAbsent ? nil : try TextNormalizer(root["normalizer"])
    preTokenizer = root["pre_tokenizer"].isAbsent ? nil : try PreTokenizer(root["pre_tokenizer"])
    postProcessor = root["post_processor"].isAbsent ? nil : try PostProcessor(root["post_processor"])
    decoder = root["decoder"].isAbsent ? nil : try TokenDecoder(root["decoder"])

    let added = root["added_tokens"].isAbsent ? [] : try root["added_tokens"].array().map(AddedToken.init)
    rawAddedTokens = AddedTokenMatcher(added.filter { !$0.isNormalized })
    normalizedAddedTokens = AddedTokenMatcher(added.filter(\.isNormalized))
    addedTokenOfID = Dictionary(added.map { ($0.id, $0.content) }, uniquingKeysWith: { $1 })
    idOfAddedToken = Dictionary(added.map { (Array($0.content.utf8), $0.id) }, uniquingKeysWith: { $1 })
    let specialAdded = added.filter(\.isSpecial)
    let model = self.model
    // The reference skips by token text, so a model id spelling a special token counts too.
    specialIDs = Set(specialAdded.map(\.id) + specialAdded.compactMap { Self.modelID(model, $0.content) })
    specialTokenCount = postProcessor?.addedCount ?? 0

    let modelSize: Int
    switch model {
    case .unigram(let unigram): modelSize = unigram.pieces.count
    case .bpe(let bpe): modelSize = (bpe.tokens.keys.max() ?? -1) + 1
    }
    vocabularySize = max(modelSize, (added.map(\.id).max() ?? -1) + 1)
    tokenizerJSON = data
    self.configFiles = configFiles
    specials = try TokenizerSpecialsResolver(
      idOf: { [idOfAddedToken, model] token in
        idOfAddedToken[Array(token.utf8)] ?? Self.modelID(model, token)
      },
      modelUnknownID: Self.modelUnknownID(model), source: source
    ).resolve(configFiles: configFiles)
  }

  /// `model.type`, or for files that predate it, the type its fields imply.
  private static func modelType(_ field: JSONField) throws -> String {
    if let type = try field["type"].optionalString() { return type }
    if !field["merges"].isAbsent { return "BPE" }
    if case .array? = field["vocab"].value { return "Unigram" }
    throw field["type"].error("missing (expected \"Unigram\" or \"BPE\")")
  }

  private static func modelID(_ model: Model, _ token: String) -> Int? {
    switch model {
    case .unigram(let unigram): return unigram.id(for: token)
    case .bpe(let bpe): return bpe.id(for: token)
    }
  }

  private static func modelUnknownID(_ model: Model) -> Int? {
    switch model {
    case .unigram(let unigram): return unigram.unknownID
    case .bpe(let bpe): return bpe.unknownToken.flatMap { bpe.id(for: $0) }
    }
  }

  public func encodeWithoutSpecialTokens(_ text: String) -> [Int] {
    var ids: [Int] = []
    for segment in rawAddedTokens.split(PreToken(utf8: Array(text.utf8), startsAtOrigin: true)) {
      guard case .text(let raw) = segment else {
        if case .added(let id) = segment { ids.append(id) }
        continue
      }
      var piece = raw
      if let normalizer {
        var startsAtOrigin = raw.startsAtOrigin
        let normalized = normalizer.normalize(
          String(decoding: raw.utf8, as: UTF8.self), startsAtOrigin: &startsAtOrigin)
        piece = PreToken(utf8: Array(normalized.utf8), startsAtOrigin: startsAtOrigin)
      }
      for part in normalizedAddedTokens.split(piece) {
        switch part {
        case .added(let id):
          ids.append(id)
        case .text(let piece):
          let pieces = preTokenizer?.split([piece]) ?? [piece]
          switch model {
          case .unigram(let unigram): for piece in pieces { ids += unigram.tokenize(piece.utf8) }
          case .bpe(let bpe): for piece in pieces { ids += bpe.tokenize(piece.utf8) }
          }
        }
      }
    }
    return ids
  }

  public func addingSpecialTokens(to ids: [Int]) -> [Int] {
    postProcessor?.process(ids) ?? ids
  }

  public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
    var tokens: [String] = []
    tokens.reserveCapacity(ids.count)
    for id in ids {
      guard let token = token(forID: id) else { continue }
      if skipSpecialTokens, specialIDs.contains(id) { continue }
      tokens.append(token)
    }
    guard let decoder else { return tokens.joined(separator: " ") }
    return decoder.decode(tokens).joined()
  }

  public func token(forID id: Int) -> String? {
    if let added = addedTokenOfID[id] { return added }
    switch model {
    case .unigram(let unigram): return unigram.pieces.indices.contains(id) ? unigram.pieces[id] : nil
    case .bpe(let bpe): return bpe.tokens[id]
    }
  }

  public func id(forToken token: String) -> Int? {
    idOfAddedToken[Array(token.utf8)] ?? Self.modelID(model, token)
  }

  /// Writes `tokenizer.json` and the special-token files exactly as they
  /// were read; a tokenizer read without `tokenizer_config.json` gets a
  /// minimal one naming its special tokens.
  public func save(to folder: URL) throws {
    try writeAtomically(tokenizerJSON, to: folder.appendingPathComponent(tokenizerFileName))
    for file in configFiles {
      try writeAtomically(file.data, to: folder.appendingPathComponent(file.name))
    }
    if !configFiles.contains(where: { $0.name == tokenizerConfigFileName }) {
      try writeAtomically(try minimalConfig(), to: folder.appendingPathComponent(tokenizerConfigFileName))
    }
  }

  /// `tokenizer_config.json` naming the special tokens, for files that came
  /// without one.
  private func minimalConfig() throws -> Data {
    let named: [(String, Int?)] = [
      ("pad_token", specials.padID), ("eos_token", specials.eosID), ("unk_token", specials.unknownID),
      ("bos_token", specials.bosID), ("mask_token", specials.maskID),
    ]
    var config: [String: String] = [:]
    for case (let key, let id?) in named {
      if let token = token(forID: id) { config[key] = token }
    }
    return try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
  }
}
