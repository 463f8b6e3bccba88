import Foundation
import JSONFormat

/// A position in a parsed JSON file: the value there (if any) plus its dotted
/// path, so that every complaint can name the file and the field.
struct JSONField {
  let value: JSONValue?
  let path: String
  let file: String

  init(root: JSONValue, file: String) {
    self.value = root
    self.path = ""
    self.file = file
  }

  private init(value: JSONValue?, path: String, file: String) {
    self.value = value
    self.path = path
    self.file = file
  }

  subscript(key: String) -> JSONField {
    JSONField(value: value?[key], path: path.isEmpty ? key : "\(path).\(key)", file: file)
  }

  /// Missing, or an explicit `null`.
  var isAbsent: Bool {
    switch value {
    case .none, .null?: return true
    default: return false
    }
  }

  func error(_ message: String) -> TokenizerError {
    TokenizerError(file: file, field: path.isEmpty ? nil : path, message: message)
  }

  private func mismatch(_ expected: String) -> TokenizerError {
    error(value == nil ? "missing (expected \(expected))" : "expected \(expected)")
  }

  func string() throws -> String {
    guard case .string(let text)? = value else { throw mismatch("a string") }
    return text
  }

  func optionalString() throws -> String? {
    isAbsent ? nil : try string()
  }

  func double() throws -> Double {
    guard case .number(let number)? = value else { throw mismatch("a number") }
    return number
  }

  func int() throws -> Int {
    guard case .number(let number)? = value, number == number.rounded(), abs(number) < 1e15 else {
      throw mismatch("an integer")
    }
    return Int(number)
  }

  func optionalInt() throws -> Int? {
    isAbsent ? nil : try int()
  }

  func bool(default fallback: Bool) throws -> Bool {
    if isAbsent { return fallback }
    guard case .bool(let flag)? = value else { throw mismatch("true or false") }
    return flag
  }

  func array() throws -> [JSONField] {
    guard case .array(let elements)? = value else { throw mismatch("an array") }
    return elements.enumerated().map { JSONField(value: $1, path: "\(path)[\($0)]", file: file) }
  }

  func members() throws -> [(key: String, field: JSONField)] {
    guard case .object(let members)? = value else { throw mismatch("an object") }
    return members.map {
      ($0.key, JSONField(value: $0.value, path: path.isEmpty ? $0.key : "\(path).\($0.key)", file: file))
    }
  }

  /// A single Unicode scalar given as a one-character string (e.g. "▁").
  func scalar() throws -> Unicode.Scalar {
    let text = try string()
    guard text.unicodeScalars.count == 1, let scalar = text.unicodeScalars.first else {
      throw error("expected a single character, got \"\(text)\"")
    }
    return scalar
  }
}
