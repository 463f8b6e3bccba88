import Foundation

/// An optional field that JSON files always show: nil is written as `null`
/// (synthesized `Codable` would leave the key out), and a missing key reads as nil.
@propertyWrapper
public struct NullEncoded<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
  public var wrappedValue: Value?

  public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    wrappedValue = c.decodeNil() ? nil : try c.decode(Value.self)
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
  }
}

extension KeyedDecodingContainer {
  /// Lets a ``NullEncoded`` key be absent.
  public func decode<Value>(_ type: NullEncoded<Value>.Type, forKey key: Key) throws -> NullEncoded<Value> {
    try decodeIfPresent(type, forKey: key) ?? NullEncoded(wrappedValue: nil)
  }
}
