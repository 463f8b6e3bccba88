import Foundation
import JSONFormat

/// Works out which ids are pad / eos / unk / bos / mask for a Hugging Face
/// tokenizer: from `tokenizer_config.json`, then `special_tokens_map.json`,
/// when given, else from the model's unknown id and the conventional names.
struct TokenizerSpecialsResolver {
  let idOf: (String) -> Int?
  let modelUnknownID: Int?
  let source: String

  private static let conventionalNames: [String: [String]] = [
    "eos_token": ["</s>", "<|endoftext|>", "<eos>", "[SEP]"],
    "pad_token": ["<pad>", "[PAD]"],
    "unk_token": ["<unk>", "[UNK]"],
    "bos_token": ["<s>", "<bos>", "[CLS]"],
    "mask_token": ["<mask>", "[MASK]"],
  ]

  func resolve(configFiles: [ConfigFile]) throws -> TokenizerSpecials {
    var named: [String: Int] = [:]
    for config in configFiles {
      let root = JSONField(root: try JSONValue.parse(config.data, source: config.source), file: config.source)
      for key in Self.conventionalNames.keys.sorted() where named[key] == nil {
        let field = root[key]
        if field.isAbsent { continue }
        // Either "</s>" or an AddedToken object {"content": "</s>", …}.
        let content: String
        if case .string(let text)? = field.value { content = text } else { content = try field["content"].string() }
        guard let id = idOf(content) else { throw field.error("\"\(content)\" is not in the vocabulary of \(source)") }
        named[key] = id
      }
    }
    func find(_ key: String) -> Int? {
      named[key] ?? Self.conventionalNames[key]!.lazy.compactMap(idOf).first
    }
    guard let eos = find("eos_token") else {
      throw TokenizerError(
        file: source, message: "no end-of-sequence token found (name one as eos_token in \(tokenizerConfigFileName))")
    }
    let pad = find("pad_token") ?? eos
    // Byte-level BPE never emits an unknown token; pad stands in if none is named.
    let unknown = named["unk_token"] ?? modelUnknownID ?? find("unk_token") ?? pad
    return TokenizerSpecials(
      padID: pad, eosID: eos, unknownID: unknown, bosID: find("bos_token"), maskID: find("mask_token"))
  }
}
