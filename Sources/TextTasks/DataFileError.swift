import Foundation

/// A data file that cannot be read as examples. The message names the file
/// and, for a bad line, its 1-based line number.
public struct DataFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
  public enum Reason: Equatable, Sendable {
    case unreadable(String)
    case unknownFormat(String)
    case emptyFile(skippedLines: Int)
    case invalidUTF8
    case badJSON(String)
    case notAnObject
    case missingField(String)
    case fieldNotString(String)
    case wrongColumnCount(expected: Int, found: Int)
    case badQuote(String)
  }

  public let file: String
  /// The 1-based line where the bad record starts; nil for whole-file problems.
  public let line: Int?
  public let reason: Reason

  public init(file: String, line: Int? = nil, reason: Reason) {
    self.file = file
    self.line = line
    self.reason = reason
  }

  public var description: String {
    let place = line.map { "\(file):\($0)" } ?? file
    switch reason {
    case .unreadable(let why): return "\(place): cannot read the file (\(why))"
    case .unknownFormat(let ext):
      return "\(place): cannot tell the format from the extension '\(ext)'; use .jsonl, .tsv or .csv, or name the format"
    case .emptyFile(let skipped):
      return skipped == 0 ? "\(place): the file holds no examples" : "\(place): the file holds no examples (\(skipped) bad lines skipped)"
    case .invalidUTF8: return "\(place): the line is not valid UTF-8"
    case .badJSON(let why): return "\(place): bad JSON (\(why))"
    case .notAnObject: return "\(place): the line is JSON but not an object"
    case .missingField(let field): return "\(place): missing field \"\(field)\""
    case .fieldNotString(let field): return "\(place): field \"\(field)\" is not a string"
    case .wrongColumnCount(let expected, let found): return "\(place): expected \(expected) columns, found \(found)"
    case .badQuote(let why): return "\(place): bad CSV quoting (\(why))"
    }
  }

  public var errorDescription: String? { description }

  /// Whether `--skip-bad-lines` may skip this error (only single-record faults).
  var isLineFault: Bool {
    switch reason {
    case .unreadable, .unknownFormat, .emptyFile: return false
    default: return true
    }
  }
}
