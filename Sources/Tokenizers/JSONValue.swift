import Foundation

/// A parsed JSON document, read by our own parser so that numbers keep full
/// `Double` precision (Foundation's `JSONSerialization` on Linux rounds
/// decimals through `NSDecimalNumber`, which would change Unigram scores) and
/// object keys are kept byte-exact and in order (Swift `String` keys compare
/// by canonical equivalence, which could merge two distinct vocabulary entries).
enum JSONValue: Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  /// Parses `data`; errors name `source` and the line and column.
  static func parse(_ data: Data, source: String) throws -> JSONValue {
    var parser = JSONParser(bytes: [UInt8](data), source: source)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    if parser.index < parser.bytes.count { throw parser.failure("unexpected text after the JSON value") }
    return value
  }

  /// The value under `key` of an object (the last one if repeated), or `nil`.
  func member(_ key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last { $0.key.utf8.elementsEqual(key.utf8) }?.value
  }
}

/// Recursive-descent JSON reader over UTF-8 bytes.
private struct JSONParser {
  let bytes: [UInt8]
  let source: String
  var index = 0

  init(bytes: [UInt8], source: String) {
    self.bytes = bytes
    self.source = source
  }

  func failure(_ message: String) -> TokenizerError {
    var line = 1
    var column = 1
    for byte in bytes[..<min(index, bytes.count)] {
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {
        column += 1
      }
    }
    return TokenizerError(file: source, field: "line \(line), column \(column)", message: "invalid JSON: \(message)")
  }

  mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  mutating func parseValue(depth: Int) throws -> JSONValue {
    guard depth < 512 else { throw failure("nesting deeper than 512 levels") }
    guard index < bytes.count else { throw failure("unexpected end of file") }
    switch bytes[index] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth)
    case UInt8(ascii: "["): return try parseArray(depth: depth)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectWord("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectWord("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectWord("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    default: throw failure("unexpected character")
    }
  }

  mutating func expectWord(_ word: StaticString) throws {
    let count = word.utf8CodeUnitCount
    guard index + count <= bytes.count else { throw failure("unexpected end of file") }
    let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
    guard bytes[index..<index + count].elementsEqual(expected) else { throw failure("unexpected character") }
    index += count
  }

  mutating func parseObject(depth: Int) throws -> JSONValue {
    var members: [(key: String, value: JSONValue)] = []
    try parseList(closing: UInt8(ascii: "}")) { parser in
      guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
        throw parser.failure("expected a string key")
      }
      let key = try parser.parseString()
      parser.skipWhitespace()
      guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: ":") else {
        throw parser.failure("expected ':'")
      }
      parser.index += 1
      parser.skipWhitespace()
      members.append((key, try parser.parseValue(depth: depth + 1)))
    }
    return .object(members)
  }

  mutating func parseArray(depth: Int) throws -> JSONValue {
    var elements: [JSONValue] = []
    try parseList(closing: UInt8(ascii: "]")) { parser in
      elements.append(try parser.parseValue(depth: depth + 1))
    }
    return .array(elements)
  }

  /// Reads `[`/`{`, then elements separated by commas, then `closing`.
  mutating func parseList(closing: UInt8, element: (inout JSONParser) throws -> Void) throws {
    index += 1
    skipWhitespace()
    if index < bytes.count, bytes[index] == closing {
      index += 1
      return
    }
    while true {
      skipWhitespace()
      try element(&self)
      skipWhitespace()
      guard index < bytes.count else { throw failure("unexpected end of file") }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
      } else if bytes[index] == closing {
        index += 1
        return
      } else {
        throw failure("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
      }
    }
  }

  mutating func parseNumber() throws -> Double {
    let start = index
    while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
    let text = String(decoding: bytes[start..<index], as: UTF8.self)
    // `Double(_:)` rounds correctly, like serde_json does.
    guard let value = Double(text), value.isFinite else {
      index = start
      throw failure("invalid number '\(text)'")
    }
    return value
  }

  static func isNumberByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
      UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
      return true
    default:
      return false
    }
  }

  mutating func parseString() throws -> String {
    index += 1
    var out: [UInt8] = []
    var runStart = index
    while true {
      guard index < bytes.count else { throw failure("unterminated string") }
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        out.append(contentsOf: bytes[runStart..<index])
        index += 1
        break
      }
      if byte < 0x20 { throw failure("control character in a string") }
      if byte != UInt8(ascii: "\\") {
        index += 1
        continue
      }
      out.append(contentsOf: bytes[runStart..<index])
      index += 1
      guard index < bytes.count else { throw failure("unterminated string") }
      let escape = bytes[index]
      index += 1
      switch escape {
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "/"): out.append(0x2F)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try parseHex4()
        if (0xD800..<0xDC00).contains(scalar) {
          // A high surrogate must be followed by an escaped low surrogate.
          guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
          else { throw failure("unpaired surrogate in \\u escape") }
          index += 2
          let low = try parseHex4()
          guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate in \\u escape") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
          throw failure("unpaired surrogate in \\u escape")
        }
        out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
      default:
        throw failure("unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
      }
      runStart = index
    }
    guard let string = String(validatingUTF8Bytes: out) else { throw failure("string is not valid UTF-8") }
    return string
  }

  mutating func parseHex4() throws -> UInt32 {
    guard index + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[index]
      let digit: UInt32
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
      default: throw failure("invalid \\u escape")
      }
      value = value << 4 | digit
      index += 1
    }
    return value
  }
}

extension String {
  /// The string spelled by `bytes`, or `nil` if they are not valid UTF-8.
  init?(validatingUTF8Bytes bytes: [UInt8]) {
    // Decoding repairs bad sequences with U+FFFD, which changes the bytes.
    let decoded = String(decoding: bytes, as: UTF8.self)
    guard decoded.utf8.elementsEqual(bytes) else { return nil }
    self = decoded
  }
}
