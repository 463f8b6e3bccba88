import Foundation
import JSONFormat
import TensorCore

/// Tessera's small JSON record files (`training-cost.json`, …) read strictly:
/// bad JSON, a repeated key, an unknown field or a bad value is one
/// ``RecipeError`` naming the file and the field, never a silently used default.
enum StrictJSONFile {
  /// Writes `value` to `url` atomically: pretty-printed, sorted keys, a final newline.
  static func write(_ value: some Encodable, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(value) + Data("\n".utf8), to: url)
  }

  static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data = try FileAccess.read(url)
    do {
      return try StrictJSON.decode(T.self, from: try JSONValue.parse(data))
    } catch let error as JSONSyntaxError {
      throw RecipeError(file: url.path, reason: error.description)
    } catch let error as JSONFieldError {
      throw RecipeError(file: url.path, reason: error.description)
    }
  }
}

extension KeyedDecodingContainer {
  /// The file's format version, refused unless it is the one this Tessera reads.
  func decodeFormatVersion(forKey key: Key, reading current: Int) throws -> Int {
    let version = try decode(Int.self, forKey: key)
    guard version == current else {
      throw DecodingError.dataCorruptedError(
        forKey: key, in: self, debugDescription: "format \(version) is not supported (this Tessera reads \(current))")
    }
    return version
  }

  /// Throws a decoding error naming the first key whose count is negative.
  func refuseNegative(_ values: [(Key, Int)]) throws {
    for (key, value) in values where value < 0 {
      throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must not be negative, got \(value)")
    }
  }

  /// Throws a decoding error naming the first key whose amount is not a finite number ≥ 0.
  func refuseNegativeOrNonFinite(_ values: [(Key, Double)]) throws {
    for (key, value) in values where !(value.isFinite && value >= 0) {
      throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be a finite number ≥ 0, got \(value)")
    }
  }
}
