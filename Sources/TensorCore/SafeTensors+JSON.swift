/// A JSON value from a safetensors header. Objects keep their keys in file
/// order, duplicates included, because `JSONSerialization` silently keeps only
/// one of two equal keys and a duplicated tensor name must be an error.
enum HeaderJSON {
  case object([(key: String, value: HeaderJSON)])
  case array([HeaderJSON])
  case string(String)
  /// A number written without fraction or exponent that fits in `Int`.
  case integer(Int)
  /// Any other number, as written.
  case otherNumber(String)
  case bool(Bool)
  case null

  /// A short name of the value's kind, for error messages.
  var kind: String {
    switch self {
    case .object: "an object"
    case .array: "an array"
    case .string: "a string"
    case .integer, .otherNumber: "a number"
    case .bool: "a Boolean"
    case .null: "null"
    }
  }
}

/// A strict RFC 8259 parser for safetensors headers (small: a few kilobytes
/// for a whole model), written here because the standard parser cannot report
/// duplicate keys.
struct HeaderJSONParser {
  /// Why parsing stopped, and where (a byte offset into the header).
  struct Failure: Error {
    let reason: String
    let offset: Int
  }

  private let bytes: [UInt8]
  private var index = 0
  private var depth = 0
  /// Deeper nesting than any real header; the limit keeps recursion bounded.
  private static let maximumDepth = 64

  /// Parses one JSON value, allowing surrounding whitespace (writers pad the
  /// header with spaces). The bytes must already be valid UTF-8.
  static func parse(_ bytes: [UInt8]) throws(Failure) -> HeaderJSON {
    var parser = HeaderJSONParser(bytes: bytes)
    let value = try parser.parseValue()
    parser.skipWhitespace()
    guard parser.index == bytes.count else { throw parser.failure("unexpected text after the JSON value") }
    return value
  }

  private init(bytes: [UInt8]) { self.bytes = bytes }

  private func failure(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

  private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
  }

  private mutating func expect(_ literal: String) throws(Failure) {
    for byte in literal.utf8 {
      guard current == byte else { throw failure("expected '\(literal)'") }
      index += 1
    }
  }

  private mutating func parseValue() throws(Failure) -> HeaderJSON {
    skipWhitespace()
    guard let byte = current else { throw failure("unexpected end of header") }
    switch byte {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try expect("true"); return .bool(true)
    case UInt8(ascii: "f"): try expect("false"); return .bool(false)
    case UInt8(ascii: "n"): try expect("null"); return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw failure("unexpected character '\(Character(Unicode.Scalar(byte)))'")
    }
  }

  /// Steps into an object or array, refusing nesting deep enough to exhaust the stack.
  private mutating func enterContainer() throws(Failure) {
    guard depth < Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
    depth += 1
    index += 1  // the opening bracket
  }

  private mutating func parseObject() throws(Failure) -> HeaderJSON {
    try enterContainer()
    defer { depth -= 1 }
    var members: [(key: String, value: HeaderJSON)] = []
    skipWhitespace()
    if current == UInt8(ascii: "}") {
      index += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else { throw failure("expected a quoted key") }
      let key = try parseString()
      skipWhitespace()
      try expect(":")
      members.append((key, try parseValue()))
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
      } else {
        try expect("}")
        return .object(members)
      }
    }
  }

  private mutating func parseArray() throws(Failure) -> HeaderJSON {
    try enterContainer()
    defer { depth -= 1 }
    var elements: [HeaderJSON] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      index += 1
      return .array(elements)
    }
    while true {
      elements.append(try parseValue())
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
      } else {
        try expect("]")
        return .array(elements)
      }
    }
  }

  private mutating func parseString() throws(Failure) -> String {
    index += 1  // opening quote
    var utf8: [UInt8] = []
    while true {
      guard let byte = current else { throw failure("unterminated string") }
      index += 1
      switch byte {
      case UInt8(ascii: "\""):
        return String(decoding: utf8, as: UTF8.self)
      case UInt8(ascii: "\\"):
        try parseEscape(into: &utf8)
      case 0..<0x20:
        index -= 1
        throw failure("control character in a string")
      default:
        utf8.append(byte)
      }
    }
  }

  private mutating func parseEscape(into utf8: inout [UInt8]) throws(Failure) {
    guard let byte = current else { throw failure("unterminated escape") }
    index += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
    case UInt8(ascii: "b"): utf8.append(0x08)
    case UInt8(ascii: "f"): utf8.append(0x0C)
    case UInt8(ascii: "n"): utf8.append(0x0A)
    case UInt8(ascii: "r"): utf8.append(0x0D)
    case UInt8(ascii: "t"): utf8.append(0x09)
    case UInt8(ascii: "u"): try parseUnicodeEscape(into: &utf8)
    default: throw failure("invalid escape '\\\(Character(Unicode.Scalar(byte)))'")
    }
  }

  private mutating func parseUnicodeEscape(into utf8: inout [UInt8]) throws(Failure) {
    var value = try parseHex4()
    if (0xD800..<0xDC00).contains(value) {
      // A high surrogate must be followed by an escaped low surrogate.
      try expect("\\u")
      let low = try parseHex4()
      guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate in \\u escape") }
      value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
    }
    guard let scalar = Unicode.Scalar(value) else { throw failure("unpaired surrogate in \\u escape") }
    utf8.append(contentsOf: String(Character(scalar)).utf8)
  }

  private mutating func parseHex4() throws(Failure) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = current, let digit = Self.hexDigit(byte) else {
        throw failure("expected four hex digits in \\u escape")
      }
      value = value << 4 | digit
      index += 1
    }
    return value
  }

  private static func hexDigit(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
  }

  private mutating func parseNumber() throws(Failure) -> HeaderJSON {
    let start = index
    if current == UInt8(ascii: "-") { index += 1 }
    if current == UInt8(ascii: "0") {
      index += 1
    } else {
      guard skipDigits() else { throw failure("expected a digit") }
    }
    var isInteger = true
    if current == UInt8(ascii: ".") {
      index += 1
      isInteger = false
      guard skipDigits() else { throw failure("expected a digit after '.'") }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      index += 1
      isInteger = false
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
      guard skipDigits() else { throw failure("expected a digit in the exponent") }
    }
    let text = String(decoding: bytes[start..<index], as: UTF8.self)
    if isInteger, let value = Int(text) { return .integer(value) }
    return .otherNumber(text)
  }

  /// Skips a run of decimal digits; false if there was none.
  private mutating func skipDigits() -> Bool {
    let start = index
    while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
    return index > start
  }
}
