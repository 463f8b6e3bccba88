import Foundation

/// SentencePiece's compiled normalization rules (`precompiled_charsmap`), as
/// T5's `tokenizer.json` carries them: a Darts double-array trie over UTF-8
/// keys whose values point into a pool of NUL-terminated replacements.
///
/// Layout: little-endian `u32` trie size in bytes, the trie's `u32` units,
/// then the replacement pool.
struct PrecompiledCharsmap: Sendable {
  private let units: [UInt32]
  private let pool: [UInt8]
  /// The rule of each ASCII character that has one of its own, looked up
  /// once: most text is ASCII without rules and is passed through.
  private var asciiReplacement = [ArraySlice<UInt8>?](repeating: nil, count: 128)

  init(base64 text: String, field: JSONField) throws {
    guard let data = Data(base64Encoded: text) else { throw field.error("not valid base64") }
    let bytes = [UInt8](data)
    guard bytes.count >= 4 else { throw field.error("charsmap too short") }
    let trieSize = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
    guard trieSize % 4 == 0, trieSize > 0, 4 + trieSize <= bytes.count else {
      throw field.error("trie size \(trieSize) does not fit the \(bytes.count)-byte charsmap")
    }
    var units = [UInt32](repeating: 0, count: trieSize / 4)
    for index in units.indices {
      let at = 4 + index * 4
      units[index] =
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
    self.units = units
    self.pool = Array(bytes[(4 + trieSize)...])
    guard String(validatingUTF8Bytes: pool) != nil else { throw field.error("replacement pool is not valid UTF-8") }
    for byte in 0..<128 { asciiReplacement[byte] = replacement(forPrefixOf: [UInt8(byte)]) }
  }

  /// The replacement for the shortest rule that matches a prefix of `key`,
  /// as Hugging Face's port does, or `nil` when none matches.
  func replacement(forPrefixOf key: some Sequence<UInt8>) -> ArraySlice<UInt8>? {
    guard let start = firstPrefixValue(key), start < pool.count else { return nil }
    var end = start
    while end < pool.count, pool[end] != 0 { end += 1 }
    return pool[start..<end]
  }

  private func firstPrefixValue(_ key: some Sequence<UInt8>) -> Int? {
    var node = Self.offset(units[0])
    for byte in key {
      if byte == 0 { return nil }
      node ^= Int(byte)
      guard node < units.count else { return nil }
      let unit = units[node]
      // The label must be the byte, and the unit must not be a leaf.
      guard unit & 0x8000_00FF == UInt32(byte) else { return nil }
      node ^= Self.offset(unit)
      guard node < units.count else { return nil }
      if unit & 0x100 != 0 { return Int(units[node] & 0x7FFF_FFFF) }
    }
    return nil
  }

  private static func offset(_ unit: UInt32) -> Int {
    Int((unit >> 10) << ((unit & 0x200) >> 6))
  }

  /// Rewrites `text` grapheme by grapheme: a cluster shorter than 6 bytes is
  /// looked up whole first; otherwise (or if that fails) each scalar alone.
  /// `startsAtOrigin` turns false if the first characters are deleted.
  func normalize(_ text: String, startsAtOrigin: inout Bool) -> String {
    let bytes = Array(text.utf8)
    if bytes.allSatisfy({ $0 < 0x80 && asciiReplacement[Int($0)] == nil }) { return text }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 16)
    // Two ASCII characters in a row (other than CR LF) always have a grapheme
    // boundary between them, so the text is cut there and only the chunks
    // that hold other characters go through grapheme segmentation.
    var chunkStart = 0
    var previousIsASCII = false
    var index = 0
    while index <= bytes.count {
      let isASCII = index < bytes.count && bytes[index] < 0x80
      let atBoundary =
        index == bytes.count
        || (isASCII && previousIsASCII && !(bytes[index] == 0x0A && bytes[index - 1] == 0x0D))
      if atBoundary, chunkStart < index {
        appendNormalized(bytes[chunkStart..<index], to: &out, startsAtOrigin: &startsAtOrigin)
        chunkStart = index
      }
      guard index < bytes.count else { break }
      previousIsASCII = isASCII
      index += isASCII ? 1 : utf8Length(leadByte: bytes[index])
    }
    return String(decoding: out, as: UTF8.self)
  }

  private func appendNormalized(_ chunk: ArraySlice<UInt8>, to out: inout [UInt8], startsAtOrigin: inout Bool) {
    func append(_ replacement: ArraySlice<UInt8>) {
      // Text deleted at the very start moves the start off the original's.
      if out.isEmpty, replacement.isEmpty { startsAtOrigin = false }
      out += replacement
    }
    if chunk.count == 1, let byte = chunk.first, byte < 0x80 {
      if let replacement = asciiReplacement[Int(byte)] { append(replacement) } else { out.append(byte) }
      return
    }
    for character in String(decoding: chunk, as: UTF8.self) {
      let utf8 = character.utf8
      if utf8.count < 6, let replacement = replacement(forPrefixOf: utf8) {
        append(replacement)
        continue
      }
      for scalar in character.unicodeScalars {
        if let replacement = replacement(forPrefixOf: String(scalar).utf8) {
          append(replacement)
        } else {
          UTF8.encode(scalar) { out.append($0) }
        }
      }
    }
  }
}
