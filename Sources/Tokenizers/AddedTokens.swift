/// One entry of `tokenizer.json`'s `added_tokens`: text matched as a whole
/// before the model sees the input (`</s>`, `<mask>`, T5's sentinels …).
struct AddedToken: Sendable {
  var id: Int
  var content: String
  var isSpecial: Bool
  /// Matched in normalized text rather than in the raw input.
  var isNormalized: Bool
  var singleWord: Bool
  var stripLeft: Bool
  var stripRight: Bool

  init(_ field: JSONField) throws {
    id = try field["id"].int()
    content = try field["content"].string()
    guard !content.isEmpty else { throw field["content"].error("empty added token") }
    isSpecial = try field["special"].bool(default: false)
    isNormalized = try field["normalized"].bool(default: !isSpecial)
    singleWord = try field["single_word"].bool(default: false)
    stripLeft = try field["lstrip"].bool(default: false)
    stripRight = try field["rstrip"].bool(default: false)
  }
}

/// A piece of input: either text still to tokenize, or an added token.
enum InputSegment {
  case text(PreToken)
  case added(id: Int)
}

/// Finds added tokens in text the way Hugging Face's `AddedVocabulary` does:
/// leftmost-longest matches, honouring `single_word`, `lstrip` and `rstrip`.
struct AddedTokenMatcher: Sendable {
  private let tokens: [AddedToken]
  /// Trie over the tokens' UTF-8 bytes: child of (node, byte).
  private var children: [Int: Int] = [:]
  /// Whether some token starts with each byte: most positions fail here.
  private var isFirstByte = [Bool](repeating: false, count: 256)
  /// Index into `tokens` of the token ending at each node, or -1.
  private var terminal: [Int] = [-1]

  init(_ tokens: [AddedToken]) {
    self.tokens = tokens
    for (index, token) in tokens.enumerated() {
      var node = 0
      isFirstByte[Int(token.content.utf8.first!)] = true
      for byte in token.content.utf8 {
        let key = node << 8 | Int(byte)
        if let child = children[key] {
          node = child
        } else {
          children[key] = terminal.count
          node = terminal.count
          terminal.append(-1)
        }
      }
      terminal[node] = index
    }
  }

  var isEmpty: Bool { tokens.isEmpty }

  /// Splits `piece` around the added tokens found in it.
  func split(_ piece: PreToken) -> [InputSegment] {
    guard !tokens.isEmpty else { return [.text(piece)] }
    let bytes = piece.utf8
    var segments: [InputSegment] = []
    var textStart = 0
    var searchFrom = 0
    while let (matchStart, matchEnd, token) = nextMatch(in: bytes, from: searchFrom) {
      searchFrom = matchEnd
      var start = matchStart
      var stop = matchEnd
      if token.singleWord {
        let wordBefore = start > 0 && isWordCharacter(lastScalar(of: bytes[..<start]))
        let wordAfter = stop < bytes.count && isWordCharacter(firstScalar(of: bytes[stop...]))
        if wordBefore || wordAfter { continue }
      }
      if token.stripLeft {
        // Take the spaces before, but not ones an earlier match already took.
        start = max(textStart, whitespaceRunStart(bytes, before: start))
      }
      if token.stripRight { stop = whitespaceRunEnd(bytes, after: stop) }
      if textStart < start {
        segments.append(
          .text(PreToken(utf8: Array(bytes[textStart..<start]), startsAtOrigin: piece.startsAtOrigin && textStart == 0))
        )
      }
      segments.append(.added(id: token.id))
      textStart = stop
      searchFrom = max(searchFrom, stop)
    }
    if textStart < bytes.count || segments.isEmpty {
      segments.append(
        .text(PreToken(utf8: Array(bytes[textStart...]), startsAtOrigin: piece.startsAtOrigin && textStart == 0)))
    }
    return segments
  }

  /// The leftmost match at or after `from`, longest among those starting there.
  private func nextMatch(in bytes: [UInt8], from: Int) -> (Int, Int, AddedToken)? {
    var start = from
    while start < bytes.count {
      guard isFirstByte[Int(bytes[start])] else {
        start += 1
        continue
      }
      var node = 0
      var index = start
      var best: (end: Int, token: Int)?
      while index < bytes.count, let child = children[node << 8 | Int(bytes[index])] {
        node = child
        index += 1
        if terminal[node] >= 0 { best = (index, terminal[node]) }
      }
      if let best { return (start, best.end, tokens[best.token]) }
      start += 1
    }
    return nil
  }

  /// Rust's Unicode `\w`: alphabetic, marks, decimal digits, connector
  /// punctuation and the joiners.
  private func isWordCharacter(_ scalar: Unicode.Scalar?) -> Bool {
    guard let scalar else { return false }
    let properties = scalar.properties
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
  }

  private func lastScalar(of bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
    String(decoding: bytes, as: UTF8.self).unicodeScalars.last
  }

  private func firstScalar(of bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
    return nil
  }

  /// Start of the whitespace run that ends at `end`.
  private func whitespaceRunStart(_ bytes: [UInt8], before end: Int) -> Int {
    let scalars = String(decoding: bytes[..<end], as: UTF8.self).unicodeScalars
    var start = end
    for scalar in scalars.reversed() {
      guard scalar.properties.isWhitespace else { break }
      start -= UTF8.width(scalar)
    }
    return start
  }

  /// End of the whitespace run that starts at `start`.
  private func whitespaceRunEnd(_ bytes: [UInt8], after start: Int) -> Int {
    var end = start
    for scalar in String(decoding: bytes[start...], as: UTF8.self).unicodeScalars {
      guard scalar.properties.isWhitespace else { break }
      end += UTF8.width(scalar)
    }
    return end
  }
}
