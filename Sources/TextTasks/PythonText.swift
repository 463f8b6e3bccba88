// Text primitives that behave exactly like the Python built-ins the reference
// scorers use. Python works on Unicode code points, so these work on scalars,
// never on Swift `Character`s (grapheme clusters) or canonical equivalence.

enum PythonText {
  /// `str.isspace()`: the characters `str.split()` and `str.rstrip()` remove.
  static func isSpace(_ value: UInt32) -> Bool {
    switch value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
      return true
    default:
      return false
    }
  }

  /// The code points of `text`.
  static func codePoints(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

  /// `str.split()` with no arguments: runs of whitespace separate, none are kept.
  static func split(_ text: [UInt32]) -> [[UInt32]] {
    var words: [[UInt32]] = []
    var word: [UInt32] = []
    for value in text {
      if isSpace(value) {
        if !word.isEmpty {
          words.append(word)
          word.removeAll(keepingCapacity: true)
        }
      } else {
        word.append(value)
      }
    }
    if !word.isEmpty { words.append(word) }
    return words
  }

  /// `str.rstrip()`.
  static func rstrip(_ text: [UInt32]) -> [UInt32] {
    var end = text.count
    while end > 0 && isSpace(text[end - 1]) { end -= 1 }
    return Array(text[..<end])
  }

  /// `str.replace(old, new)`: left to right, non-overlapping.
  static func replace(_ text: [UInt32], _ old: String, _ new: String) -> [UInt32] {
    let pattern = codePoints(old)
    let replacement = codePoints(new)
    guard !pattern.isEmpty, text.count >= pattern.count else { return text }
    var out: [UInt32] = []
    out.reserveCapacity(text.count)
    var i = 0
    while i < text.count {
      if text[i] == pattern[0] && i + pattern.count <= text.count && text[i..<(i + pattern.count)].elementsEqual(pattern) {
        out += replacement
        i += pattern.count
      } else {
        out.append(text[i])
        i += 1
      }
    }
    return out
  }
}
