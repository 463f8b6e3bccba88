import Foundation

/// Text that is not valid UTF-8, located by line and byte offset.
public struct InvalidTextError: Error, CustomStringConvertible, Equatable, Sendable {
  /// Where the text came from (a path, or "standard input").
  public var source: String
  /// The 1-based line holding the bad byte.
  public var line: Int
  /// The offset of the first bad byte from the start of the whole input.
  public var byteOffset: Int

  public var description: String {
    "\(source): line \(line): invalid UTF-8 at byte offset \(byteOffset)"
  }
}

/// Splitting raw input into lines of text, refusing bytes that are not
/// UTF-8 instead of replacing them silently (a tokenizer would encode the
/// replacement character, and the output would answer a different input).
public enum TextLines {
  /// The lines of `data`: split at `\n`, a `\r` before it dropped, no extra
  /// line after a final newline, a UTF-8 byte-order mark at the start skipped.
  public static func decode(_ data: Data, source: String) throws -> [String] {
    var bytes = [UInt8](data)
    var base = 0
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
      bytes.removeFirst(3)
      base = 3
    }
    var lines: [String] = []
    var start = 0
    while start < bytes.count {
      let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
      var lineEnd = end
      if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
      let line = bytes[start..<lineEnd]
      guard let text = String(validating: line, as: UTF8.self) else {
        let offset = firstInvalidByte(line) ?? 0
        throw InvalidTextError(source: source, line: lines.count + 1, byteOffset: base + start + offset)
      }
      lines.append(text)
      start = end + 1
    }
    return lines
  }

  /// The offset within `bytes` of the first byte that does not start or continue a valid UTF-8 sequence.
  static func firstInvalidByte(_ bytes: ArraySlice<UInt8>) -> Int? {
    var index = bytes.startIndex
    while index < bytes.endIndex {
      let lead = bytes[index]
      let length: Int
      switch lead {
      case 0x00...0x7F: length = 1
      case 0xC2...0xDF: length = 2
      case 0xE0...0xEF: length = 3
      case 0xF0...0xF4: length = 4
      default: return index - bytes.startIndex
      }
      let end = index + length
      guard end <= bytes.endIndex, String(validating: bytes[index..<end], as: UTF8.self) != nil else {
        return index - bytes.startIndex
      }
      index = end
    }
    return nil
  }
}
