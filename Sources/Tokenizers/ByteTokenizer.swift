import Foundation

/// UTF-8 bytes as tokens, for the built-in tasks: pad 0, eos 1, unk 2, and
/// byte `b` as id `b + 3`, so 259 ids in all.
public struct ByteTokenizer: TextTokenizer, Equatable {
  /// Id of byte 0; ids below it are special tokens.
  public static let byteOffset = 3
  /// The `type` written to `tokenizer.json`.
  public static let fileType = "tessera-bytes"

  public let specials = TokenizerSpecials(padID: 0, eosID: 1, unknownID: 2)
  public var vocabularySize: Int { Self.byteOffset + 256 }
  public var specialTokenCount: Int { 1 }

  private static let specialNames = ["<pad>", "</s>", "<unk>"]

  /// The byte tokenizer (it has no settings).
  public init() {}

  public func encodeWithoutSpecialTokens(_ text: String) -> [Int] {
    text.utf8.map { Int($0) + Self.byteOffset }
  }

  public func addingSpecialTokens(to ids: [Int]) -> [Int] {
    ids + [specials.eosID]
  }

  public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
    var text = ""
    var bytes: [UInt8] = []
    for id in ids {
      if id >= Self.byteOffset, id < vocabularySize {
        bytes.append(UInt8(id - Self.byteOffset))
      } else if !skipSpecialTokens, id >= 0, id < Self.byteOffset {
        text += String(decoding: bytes, as: UTF8.self) + Self.specialNames[id]
        bytes.removeAll()
      }
    }
    // Decoding repairs invalid sequences with U+FFFD instead of failing.
    return text + String(decoding: bytes, as: UTF8.self)
  }

  public func token(forID id: Int) -> String? {
    if id >= 0, id < Self.byteOffset { return Self.specialNames[id] }
    guard id >= Self.byteOffset, id < vocabularySize else { return nil }
    return String(format: "<0x%02X>", id - Self.byteOffset)
  }

  public func id(forToken token: String) -> Int? {
    if let special = Self.specialNames.firstIndex(of: token) { return special }
    let scalars = Array(token.unicodeScalars)
    guard scalars.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"),
      let byte = UInt8(String(String.UnicodeScalarView(scalars[3..<5])), radix: 16)
    else { return nil }
    return Int(byte) + Self.byteOffset
  }

  public func save(to folder: URL) throws {
    let text = """
      {"type": "\(Self.fileType)", "version": 1, "pad_id": 0, "eos_id": 1, "unk_id": 2, "byte_offset": 3}

      """
    try writeAtomically(Data(text.utf8), to: folder.appendingPathComponent(tokenizerFileName))
  }

  /// Checks a `tessera-bytes` file describes exactly this tokenizer.
  init(checking root: JSONField) throws {
    self.init()
    let expected: [(String, Int)] = [
      ("version", 1), ("pad_id", 0), ("eos_id", 1), ("unk_id", 2), ("byte_offset", Self.byteOffset),
    ]
    for (key, value) in expected where try root[key].int() != value {
      throw root[key].error("expected \(value) for a \(Self.fileType) tokenizer")
    }
  }
}
