import Foundation

extension JSONValue {
  /// Deeper nesting than any configuration, recipe or tokenizer; the bound
  /// keeps the parser's recursion far from the end of the stack.
  public static let defaultMaximumDepth = 128

  /// Parses one strict RFC 8259 value with optional surrounding whitespace.
  /// Refused besides bad syntax: invalid UTF-8 in strings, unpaired
  /// surrogates, a key repeated in one object (compared byte for byte),
  /// integers beyond ±2⁵³ (a `Double` would change them), numbers that
  /// overflow, and nesting deeper than `maximumDepth`.
  public static func parse(
    _ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth
  ) throws(JSONSyntaxError) -> JSONValue {
    var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
    let value = try parser.parseValue()
    parser.skipWhitespace()
    guard parser.index == bytes.count else { throw parser.failure("unexpected text after the JSON value") }
    return value
  }

  /// Parses `data`; see ``parse(_:maximumDepth:)-([UInt8],_)``.
  public static func parse(_ data: Data, maximumDepth: Int = defaultMaximumDepth) throws(JSONSyntaxError) -> JSONValue {
    try parse([UInt8](data), maximumDepth: maximumDepth)
  }
}

/// Recursive-descent reader over UTF-8 bytes.
private struct JSONParser {
  let bytes: [UInt8]
  let maximumDepth: Int
  var index = 0
  var depth = 0

  /// Integers below this magnitude are exact in a `Double` (2⁵³ itself is also 2⁵³ + 1 rounded).
  static let exactIntegerLimit = Double(1 << 53)

  init(bytes: [UInt8], maximumDepth: Int) {
    self.bytes = bytes
    self.maximumDepth = maximumDepth
  }

  func failure(_ reason: String, at offset: Int? = nil, duplicateKey: String? = nil) -> JSONSyntaxError {
    JSONSyntaxError(reason: reason, offset: offset ?? index, in: bytes, duplicateKey: duplicateKey)
  }

  var current: UInt8? { index < bytes.count ? bytes[index] : nil }

  mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
  }

  mutating func expect(_ literal: String) throws(JSONSyntaxError) {
    for byte in literal.utf8 {
      guard let found = current else { throw failure("unexpected end of the JSON text") }
      guard found == byte else { throw failure("expected '\(literal)'") }
      index += 1
    }
  }

  mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
    skipWhitespace()
    guard let byte = current else { throw failure("unexpected end of the JSON text") }
    switch byte {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    default: throw failure("unexpected character \(Self.describe(byte))")
    }
  }

  static func describe(_ byte: UInt8) -> String {
    (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
  }

  /// Steps into an object or array, refusing nesting deep enough to exhaust the stack.
  mutating func enterContainer() throws(JSONSyntaxError) {
    guard depth < maximumDepth else { throw failure("nesting deeper than \(maximumDepth) levels") }
    depth += 1
    index += 1  // the opening bracket
  }

  mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
    try enterContainer()
    defer { depth -= 1 }
    var members: [(key: String, value: JSONValue)] = []
    var keys = Set<[UInt8]>()
    skipWhitespace()
    if current == UInt8(ascii: "}") {
      index += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else {
        throw current == nil ? failure("unexpected end of the JSON text") : failure("expected a quoted key")
      }
      let keyOffset = index
      let keyBytes = try parseStringBytes()
      let key = String(decoding: keyBytes, as: UTF8.self)
      guard keys.insert(keyBytes).inserted else {
        throw failure("duplicate key '\(key)'", at: keyOffset, duplicateKey: key)
      }
      skipWhitespace()
      try expect(":")
      do {
        members.append((key, try parseValue()))
      } catch {
        var error = error
        error.path.insert(key, at: 0)
        throw error
      }
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
      } else {
        try expect("}")
        return .object(members)
      }
    }
  }

  mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
    try enterContainer()
    defer { depth -= 1 }
    var elements: [JSONValue] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      index += 1
      return .array(elements)
    }
    while true {
      do {
        elements.append(try parseValue())
      } catch {
        var error = error
        error.path.insert("[\(elements.count)]", at: 0)
        throw error
      }
      skipWhitespace()
      if current == UInt8(ascii: ",") {
        index += 1
      } else {
        try expect("]")
        return .array(elements)
      }
    }
  }

  mutating func parseString() throws(JSONSyntaxError) -> String {
    String(decoding: try parseStringBytes(), as: UTF8.self)
  }

  /// The decoded UTF-8 bytes of the string starting at the opening quote;
  /// they are checked to be valid UTF-8, so decoding them changes nothing.
  mutating func parseStringBytes() throws(JSONSyntaxError) -> [UInt8] {
    let start = index
    index += 1  // opening quote
    var utf8: [UInt8] = []
    var runStart = index
    while true {
      guard let byte = current else { throw failure("unterminated string", at: start) }
      switch byte {
      case UInt8(ascii: "\""):
        try appendRun(from: runStart, to: &utf8)
        index += 1
        return utf8
      case UInt8(ascii: "\\"):
        try appendRun(from: runStart, to: &utf8)
        index += 1
        try parseEscape(into: &utf8)
        runStart = index
      case 0..<0x20:
        throw failure("control character in a string")
      default:
        index += 1
      }
    }
  }

  /// Appends the unescaped bytes from `start` to the current index, which
  /// must be valid UTF-8 on their own (escapes always give whole scalars).
  func appendRun(from start: Int, to utf8: inout [UInt8]) throws(JSONSyntaxError) {
    let run = bytes[start..<index]
    if let bad = Self.firstInvalidUTF8(run) { throw failure("invalid UTF-8 in a string", at: start + bad) }
    utf8.append(contentsOf: run)
  }

  /// The offset of the first byte of `bytes` that is not part of valid UTF-8, if any.
  static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
    if bytes.allSatisfy({ $0 < 0x80 }) { return nil }
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var offset = 0
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar): offset += UTF8.width(scalar)
      case .emptyInput: return nil
      case .error: return offset
      }
    }
  }

  mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
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
    default:
      throw failure("invalid escape '\\\(Self.describe(byte).trimmingCharacters(in: ["'"]))'")
    }
  }

  mutating func parseUnicodeEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
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

  mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
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

  static func hexDigit(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
  }

  mutating func parseNumber() throws(JSONSyntaxError) -> Double {
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
    // `Double(_:)` rounds correctly, as serde_json does.
    guard let value = Double(text), value.isFinite else {
      throw failure("number \(text) is out of range", at: start)
    }
    if isInteger, abs(value) >= Self.exactIntegerLimit {
      throw failure("integer \(text) is too large to hold exactly (the limit is ±2^53)", at: start)
    }
    return value
  }

  /// Skips a run of decimal digits; false if there was none.
  mutating func skipDigits() -> Bool {
    let start = index
    while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
    return index > start
  }
}
