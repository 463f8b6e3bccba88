import Foundation
import JSONFormat

extension JSONValue {
  /// Parses `data` with the shared strict parser (repeated vocabulary keys
  /// and other bad JSON refused); errors name `source` and the line and column.
  static func parse(_ data: Data, source: String) throws -> JSONValue {
    do {
      return try JSONValue.parse(data)
    } catch {
      let place = error.path.isEmpty ? "" : " (in '\(error.pathText)')"
      throw TokenizerError(
        file: source, field: "line \(error.line), column \(error.column)",
        message: "invalid JSON: \(error.reason)\(place)")
    }
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
