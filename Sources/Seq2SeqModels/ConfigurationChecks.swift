import Foundation

/// A configuration value a model cannot be built with, named by its `config.json` key.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The `config.json` key, e.g. `d_model`.
  public var field: String
  /// What is wrong with its value.
  public var reason: String

  public init(field: String, reason: String) {
    self.field = field
    self.reason = reason
  }

  public var description: String { "field '\(field)': \(reason)" }
}

/// The checks both families' configurations share. Each throws a
/// ``ConfigurationError`` naming the key.
enum ConfigurationChecks {
  /// Sizes above this are refused before any arithmetic on them can overflow.
  static let largestSize = 1 << 40

  static func positive(_ value: Int, _ field: String) throws {
    guard value > 0 else { throw ConfigurationError(field: field, reason: "must be positive, got \(value)") }
    guard value <= largestSize else { throw ConfigurationError(field: field, reason: "\(value) is too large") }
  }

  static func nonNegative(_ value: Int, _ field: String) throws {
    guard value >= 0 else { throw ConfigurationError(field: field, reason: "must not be negative, got \(value)") }
    guard value <= largestSize else { throw ConfigurationError(field: field, reason: "\(value) is too large") }
  }

  /// A finite value greater than zero (epsilons, scales).
  static func positive(_ value: Float, _ field: String) throws {
    guard value.isFinite, value > 0 else {
      throw ConfigurationError(field: field, reason: "must be a finite number greater than 0, got \(value)")
    }
  }

  /// A finite value in `0 ..< 1` (dropout rates).
  static func probability(_ value: Float, _ field: String) throws {
    guard value.isFinite, value >= 0, value < 1 else {
      throw ConfigurationError(field: field, reason: "must be at least 0 and below 1, got \(value)")
    }
  }

  static func finiteNonNegative(_ value: Float, _ field: String) throws {
    guard value.isFinite, value >= 0 else {
      throw ConfigurationError(field: field, reason: "must be a finite number ≥ 0, got \(value)")
    }
  }

  /// A token id the embedding table has a row for.
  static func tokenID(_ id: Int?, _ field: String, vocabularySize: Int) throws {
    guard let id else { return }
    guard id >= 0, id < vocabularySize else {
      throw ConfigurationError(field: field, reason: "token id \(id) is outside the vocabulary 0..<\(vocabularySize) (vocab_size)")
    }
  }

  /// Refuses a model whose Float32 weights alone would not fit in this
  /// machine's memory. `sizes` are the size fields with their values; the
  /// error names the one furthest above its default, the likeliest typo.
  static func fitsInMemory(
    parameterCount: Double, sizes: [(field: String, value: Int, usual: Int)],
    physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory
  ) throws {
    let bytes = parameterCount * 4
    guard bytes > Double(physicalMemory) else { return }
    let culprit = sizes.max { Double($0.value) / Double(max($0.usual, 1)) < Double($1.value) / Double(max($1.usual, 1)) }
    throw ConfigurationError(
      field: culprit?.field ?? "vocab_size",
      reason: "the model would have \(String(format: "%.3g", parameterCount)) parameters and would need "
        + "\(formatBytes(bytes)) of memory; this machine has \(formatBytes(Double(physicalMemory)))")
  }

  /// "3.7 TB", "512 MB".
  static func formatBytes(_ bytes: Double) -> String {
    let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
    var value = bytes
    var unit = 0
    while value >= 1000, unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
  }
}

/// Turns a ``ConfigurationError`` thrown while decoding into a decoding error
/// at its key, so that decoding failures read alike.
struct ConfigurationKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

extension ConfigurationError {
  func decodingError(codingPath: [CodingKey]) -> DecodingError {
    .dataCorrupted(.init(codingPath: codingPath + [ConfigurationKey(stringValue: field)], debugDescription: reason))
  }
}
