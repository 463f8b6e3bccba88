import Foundation

/// The ids of the special tokens a seq2seq model needs from its tokenizer.
public struct TokenizerSpecials: Sendable, Equatable, Codable {
  /// Padding; also T5's decoder start token.
  public var padID: Int
  /// End of sequence, appended by `encode(_:addSpecialTokens:)` for T5 and BART.
  public var eosID: Int
  /// Stand-in for text the vocabulary cannot spell.
  public var unknownID: Int
  /// Beginning of sequence (BART's `<s>`); `nil` where there is none (T5).
  public var bosID: Int?
  /// Mask token for denoising objectives (BART's `<mask>`), if any.
  public var maskID: Int?

  /// Names the special-token ids.
  public init(padID: Int, eosID: Int, unknownID: Int, bosID: Int? = nil, maskID: Int? = nil) {
    self.padID = padID
    self.eosID = eosID
    self.unknownID = unknownID
    self.bosID = bosID
    self.maskID = maskID
  }
}

/// Token ids of several texts, padded to one length.
public struct TokenBatch: Sendable, Equatable {
  /// `[B][T]` ids, right-padded with the pad id.
  public var ids: [[Int]]
  /// `[B][T]`: 1 for a real token, 0 for padding.
  public var attentionMask: [[Int]]
  /// Unpadded length of each row.
  public var lengths: [Int]

  /// A batch from already padded rows.
  public init(ids: [[Int]], attentionMask: [[Int]], lengths: [Int]) {
    self.ids = ids
    self.attentionMask = attentionMask
    self.lengths = lengths
  }
}

/// How `encodeBatch` pads its rows.
public enum BatchPadding: Sendable, Equatable {
  /// Pad every row to the longest one.
  case longest
  /// Pad (and truncate) every row to exactly this many tokens.
  case fixed(Int)
}

/// Text to ids and back, the way a model was trained to see it.
///
/// Implementations are immutable values, safe to share between threads.
public protocol TextTokenizer: Sendable {
  /// One more than the largest id the tokenizer can produce: the number of
  /// embedding rows a model needs at least.
  var vocabularySize: Int { get }
  /// The special-token ids.
  var specials: TokenizerSpecials { get }
  /// How many ids `addingSpecialTokens(to:)` adds around one sequence.
  var specialTokenCount: Int { get }

  /// The ids of `text` alone, with no special tokens around them.
  func encodeWithoutSpecialTokens(_ text: String) -> [Int]
  /// `ids` with the special tokens the model expects around one sequence
  /// (T5: `… </s>`; BART: `<s> … </s>`).
  func addingSpecialTokens(to ids: [Int]) -> [Int]
  /// The text of `ids`; unknown ids are skipped, special tokens too when
  /// `skipSpecialTokens` is set. Never fails: bytes that do not form valid
  /// UTF-8 come out as U+FFFD.
  func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
  /// The vocabulary entry for `id`, or `nil` if there is none.
  func token(forID id: Int) -> String?
  /// The id of a vocabulary entry, or `nil` if there is none.
  func id(forToken token: String) -> Int?
  /// Writes the tokenizer into a model folder as `tokenizer.json` (plus
  /// `tokenizer_config.json` for Hugging Face tokenizers), atomically, so
  /// that `loadTokenizer(from:)` reads it back.
  func save(to folder: URL) throws
}

extension TextTokenizer {
  /// `specials.padID`.
  public var padTokenID: Int { specials.padID }
  /// `specials.eosID`.
  public var eosTokenID: Int { specials.eosID }
  /// `specials.unknownID`.
  public var unknownTokenID: Int { specials.unknownID }
  /// `specials.bosID`.
  public var bosTokenID: Int? { specials.bosID }

  /// The ids of `text`, by default with the model's special tokens.
  ///
  /// With `maxLength`, the text's own ids are cut first so that the result,
  /// special tokens included, has at most `maxLength` ids (as Hugging Face's
  /// right-side truncation does); the special tokens are kept unless
  /// `maxLength` is smaller than their number.
  public func encode(_ text: String, addSpecialTokens: Bool = true, maxLength: Int? = nil) -> [Int] {
    var ids = encodeWithoutSpecialTokens(text)
    guard addSpecialTokens else {
      if let maxLength, ids.count > maxLength { ids.removeSubrange(max(0, maxLength)...) }
      return ids
    }
    if let maxLength {
      let budget = max(0, maxLength - specialTokenCount)
      if ids.count > budget { ids.removeSubrange(budget...) }
    }
    var wrapped = addingSpecialTokens(to: ids)
    if let maxLength, wrapped.count > maxLength { wrapped.removeSubrange(max(0, maxLength)...) }
    return wrapped
  }

  /// The text of `ids` with special tokens left out.
  public func decode(_ ids: [Int]) -> String {
    decode(ids, skipSpecialTokens: true)
  }

  /// Encodes every text and pads the rows with the pad id.
  ///
  /// `.fixed(n)` truncates each row to `n` (like `maxLength`) before padding.
  public func encodeBatch(
    _ texts: [String], addSpecialTokens: Bool = true, maxLength: Int? = nil, padding: BatchPadding = .longest
  ) -> TokenBatch {
    var limit = maxLength
    if case .fixed(let width) = padding { limit = min(maxLength ?? width, width) }
    let rows = texts.map { encode($0, addSpecialTokens: addSpecialTokens, maxLength: limit) }
    let lengths = rows.map(\.count)
    let width: Int
    switch padding {
    case .longest: width = lengths.max() ?? 0
    case .fixed(let fixed): width = max(0, fixed)
    }
    let pad = padTokenID
    let ids = rows.map { $0 + Array(repeating: pad, count: width - $0.count) }
    let mask = lengths.map { Array(repeating: 1, count: $0) + Array(repeating: 0, count: width - $0) }
    return TokenBatch(ids: ids, attentionMask: mask, lengths: lengths)
  }
}
