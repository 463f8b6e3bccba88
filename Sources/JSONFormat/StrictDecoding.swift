import Foundation

extension Decoder {
  /// Throws a `DecodingError` naming the first key of the object being
  /// decoded that `Keys` does not list, so a misspelt field is an error
  /// instead of a silently used default.
  public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
    let present = try container(keyedBy: JSONKey.self).allKeys.map(\.stringValue)
    let known = Keys.allCases.map(\.stringValue)
    guard let unknown = present.sorted().first(where: { !known.contains($0) }) else { return }
    throw DecodingError.dataCorrupted(
      .init(
        codingPath: codingPath + [JSONKey(unknown)],
        debugDescription: "unknown field; expected one of \(known.joined(separator: ", "))"))
  }
}

/// Decoding `Decodable` values from parsed JSON, with errors that name the field.
public enum StrictJSON {
  /// Decodes `T` from `value` (already parsed, so free of syntax errors and
  /// repeated keys); a decoding failure becomes a ``JSONFieldError`` whose
  /// path starts with `path`.
  public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, path: [String] = []) throws -> T {
    do {
      return try JSONDecoder().decode(T.self, from: Data(value.jsonText.utf8))
    } catch let error as DecodingError {
      throw JSONFieldError(error, under: path)
    }
  }
}

/// A JSON value that does not decode: the dotted path of the field and why.
public struct JSONFieldError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The field's path (`training.learning_rate`, `plan.encoder[2]`), empty for the whole value.
  public let path: String
  public let reason: String

  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  /// Describes `error` in words, its coding path below `prefix`.
  public init(_ error: DecodingError, under prefix: [String]) {
    func path(_ context: DecodingError.Context, _ extra: CodingKey? = nil) -> String {
      let keys = context.codingPath + (extra.map { [$0] } ?? [])
      return JSONSyntaxError.dotted(prefix + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue })
    }
    switch error {
    case .dataCorrupted(let context):
      self.init(path: path(context), reason: context.debugDescription)
    case .keyNotFound(let key, let context):
      self.init(path: path(context, key), reason: "missing")
    case .typeMismatch(let type, let context):
      self.init(path: path(context), reason: "expected \(JSONFieldError.kindName(of: type))")
    case .valueNotFound(let type, let context):
      self.init(path: path(context), reason: "is null; expected \(JSONFieldError.kindName(of: type))")
    @unknown default:
      self.init(path: JSONSyntaxError.dotted(prefix), reason: String(describing: error))
    }
  }

  /// "field 'training.steps': expected an integer".
  public var description: String { path.isEmpty ? reason : "field '\(path)': \(reason)" }

  static func kindName(of type: Any.Type) -> String {
    switch type {
    case is any BinaryInteger.Type: "an integer"
    case is any BinaryFloatingPoint.Type: "a number"
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    default:
      String(describing: type).hasPrefix("Array") || String(describing: type).hasPrefix("[")
        ? "an array" : String(describing: type).hasPrefix("Dictionary") ? "an object" : "a \(type)"
    }
  }
}
