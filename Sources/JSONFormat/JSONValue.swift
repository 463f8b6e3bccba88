/// A parsed JSON document. Objects keep their members in file order with
/// byte-exact keys (Swift `String` equality is canonical equivalence, which
/// would merge two distinct vocabulary entries); numbers are `Double`s, which
/// the parser only produces when they hold the written number (integers up to
/// 2⁵³ exactly, no overflow to infinity).
public enum JSONValue: Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  /// The value under `key` of an object, or `nil` (also for non-objects).
  /// Keys compare byte for byte; the parser refuses repeated keys.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.first { $0.key.utf8.elementsEqual(key.utf8) }?.value
  }

  /// The number as an `Int` when it is integral (and fits), else `nil`.
  public var integerValue: Int? {
    guard case .number(let number) = self else { return nil }
    return Int(exactly: number)
  }

  /// A short name of the value's kind for error messages ("an object", "a number" …).
  public var kind: String {
    switch self {
    case .null: "null"
    case .bool: "a Boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// The value written as compact JSON; parsing it gives the value back.
  public var jsonText: String {
    var text = ""
    write(to: &text)
    return text
  }

  private func write(to text: inout String) {
    switch self {
    case .null: text += "null"
    case .bool(let flag): text += flag ? "true" : "false"
    case .number(let number): text += JSONValue.numberText(number)
    case .string(let string): text += JSONString.quoted(string)
    case .array(let elements):
      text += "["
      for (index, element) in elements.enumerated() {
        if index > 0 { text += "," }
        element.write(to: &text)
      }
      text += "]"
    case .object(let members):
      text += "{"
      for (index, member) in members.enumerated() {
        if index > 0 { text += "," }
        text += JSONString.quoted(member.key) + ":"
        member.value.write(to: &text)
      }
      text += "}"
    }
  }

  /// Integral numbers without a fraction (`3`, not `3.0`), others in Swift's
  /// shortest round-tripping form, which is valid JSON for finite values.
  static func numberText(_ number: Double) -> String {
    // Beyond 2⁵³ an integer literal would be refused on reading; "5e+18" is not.
    if abs(number) < 0x1p53, let integer = Int(exactly: number) { return String(integer) }
    return number.isFinite ? "\(number)" : "null"
  }
}

extension JSONValue: Equatable {
  /// Same kind and contents; object members compare in order.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): true
    case (.bool(let a), .bool(let b)): a == b
    case (.number(let a), .number(let b)): a == b
    case (.string(let a), .string(let b)): a == b
    case (.array(let a), .array(let b)): a == b
    case (.object(let a), .object(let b)):
      a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: false
    }
  }
}

extension JSONValue: Encodable {
  /// Encodes the value as it stands (objects as keyed containers, in order).
  public func encode(to encoder: Encoder) throws {
    switch self {
    case .object(let members):
      var container = encoder.container(keyedBy: JSONKey.self)
      for member in members { try container.encode(member.value, forKey: JSONKey(member.key)) }
    case .array(let elements):
      var container = encoder.unkeyedContainer()
      for element in elements { try container.encode(element) }
    case .null:
      var container = encoder.singleValueContainer()
      try container.encodeNil()
    case .bool(let flag):
      var container = encoder.singleValueContainer()
      try container.encode(flag)
    case .string(let string):
      var container = encoder.singleValueContainer()
      try container.encode(string)
    case .number(let number):
      var container = encoder.singleValueContainer()
      if let integer = Int(exactly: number) { try container.encode(integer) } else { try container.encode(number) }
    }
  }
}

/// Any string as a coding key: for objects whose keys are data, not a schema.
public struct JSONKey: CodingKey, Hashable, Sendable {
  public var stringValue: String
  public var intValue: Int?

  public init(_ string: String) {
    stringValue = string
  }

  public init?(stringValue: String) { self.init(stringValue) }

  public init?(intValue: Int) { self.init(index: intValue) }

  /// The key of an array element, for coding paths.
  public init(index: Int) {
    stringValue = String(index)
    intValue = index
  }
}
