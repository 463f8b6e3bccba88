import Foundation

/// The formats of example files.
///
/// - `jsonl`: one JSON object per line with string fields (default `source`,
///   `target`; other fields are ignored).
/// - `tsv`: two tab-separated columns, source then target, no quoting.
/// - `csv`: RFC 4180: comma-separated, fields optionally in double quotes,
///   `""` for a quote inside one; a quoted field may span lines.
///
/// A TSV or CSV file may start with a header row; it is recognised when it
/// holds both field names, and then picks the columns by name (every row must
/// have as many columns as the header). Blank lines are skipped everywhere.
public enum DataFileFormat: String, CaseIterable, Sendable {
  case jsonl, tsv, csv

  /// The format named by a file's extension (`.jsonl`/`.ndjson`, `.tsv`/`.tab`, `.csv`).
  public init(inferredFrom url: URL) throws {
    switch url.pathExtension.lowercased() {
    case "jsonl", "ndjson": self = .jsonl
    case "tsv", "tab": self = .tsv
    case "csv": self = .csv
    default: throw DataFileError(file: url.path, reason: .unknownFormat(url.pathExtension))
    }
  }
}

/// How to read an example file.
public struct DataFileOptions: Sendable {
  /// nil: decided by the file extension.
  public var format: DataFileFormat?
  public var sourceField: String
  public var targetField: String
  /// Skip malformed lines (counted in `DataFileReader.skippedLines`) instead of failing.
  public var skipBadLines: Bool

  public init(format: DataFileFormat? = nil, sourceField: String = "source", targetField: String = "target", skipBadLines: Bool = false) {
    self.format = format
    self.sourceField = sourceField
    self.targetField = targetField
    self.skipBadLines = skipBadLines
  }
}

/// Streams examples from a JSONL, TSV or CSV file, one record at a time.
///
/// ```swift
/// let reader = try DataFileReader(url: url)
/// while let example = try reader.next() { … }
/// print(reader.skippedLines)
/// ```
public final class DataFileReader {
  public let url: URL
  public let options: DataFileOptions
  public let format: DataFileFormat
  /// Malformed records skipped so far (only with `skipBadLines`).
  public private(set) var skippedLines = 0
  /// Examples returned so far.
  public private(set) var examplesRead = 0
  private let lines: LineReader
  /// Column indices of source and target, and the row width, for TSV/CSV.
  private var columns: (source: Int, target: Int, width: Int)?
  private var finished = false

  public init(url: URL, options: DataFileOptions = DataFileOptions()) throws {
    self.url = url
    self.options = options
    format = try options.format ?? DataFileFormat(inferredFrom: url)
    lines = try LineReader(url: url)
  }

  /// The next example, or nil at the end. Throws `DataFileError` for a bad
  /// record (unless skipping) or a file without any example.
  public func next() throws -> Example? {
    while !finished {
      do {
        guard let example = try readRecord() else {
          finished = true
          break
        }
        examplesRead += 1
        return example
      } catch let error as DataFileError where error.isLineFault && options.skipBadLines {
        skippedLines += 1
      }
    }
    if examplesRead == 0 { throw DataFileError(file: url.path, reason: .emptyFile(skippedLines: skippedLines)) }
    return nil
  }

  /// Every remaining example.
  public func readAll() throws -> [Example] {
    var examples: [Example] = []
    while let example = try next() { examples.append(example) }
    return examples
  }

  /// Reads one record; nil at the end of the file.
  private func readRecord() throws -> Example? {
    while let line = try lines.nextLine() {
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
      let lineNumber = lines.lineNumber
      let text = try decode(line, line: lineNumber)
      switch format {
      case .jsonl:
        return try parseJSON(text, line: lineNumber)
      case .tsv:
        let cells = text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if let example = try example(fromCells: cells, line: lineNumber) { return example }
      case .csv:
        let cells = try parseCSV(startingWith: text, line: lineNumber)
        if let example = try example(fromCells: cells, line: lineNumber) { return example }
      }
    }
    return nil
  }

  private func decode(_ bytes: ArraySlice<UInt8>, line: Int) throws -> String {
    guard let text = decodeUTF8(bytes) else {
      throw DataFileError(file: url.path, line: line, reason: .invalidUTF8)
    }
    return text
  }

  private func parseJSON(_ text: String, line: Int) throws -> Example {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    } catch {
      let why = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "cannot parse"
      throw DataFileError(file: url.path, line: line, reason: .badJSON(why))
    }
    guard let fields = object as? [String: Any] else { throw DataFileError(file: url.path, line: line, reason: .notAnObject) }
    func field(_ name: String) throws -> String {
      guard let value = fields[name] else { throw DataFileError(file: url.path, line: line, reason: .missingField(name)) }
      guard let string = value as? String else { throw DataFileError(file: url.path, line: line, reason: .fieldNotString(name)) }
      return string
    }
    return Example(source: try field(options.sourceField), target: try field(options.targetField))
  }

  /// An example from one TSV/CSV row; nil when the row was the header.
  private func example(fromCells cells: [String], line: Int) throws -> Example? {
    if columns == nil {
      if let source = cells.firstIndex(of: options.sourceField), let target = cells.firstIndex(of: options.targetField) {
        columns = (source, target, cells.count)
        return nil
      }
      columns = (0, 1, 2)
    }
    let (source, target, width) = columns!
    guard cells.count == width else {
      throw DataFileError(file: url.path, line: line, reason: .wrongColumnCount(expected: width, found: cells.count))
    }
    return Example(source: cells[source], target: cells[target])
  }

  /// Splits one CSV record, reading further lines while a quoted field is open.
  private func parseCSV(startingWith firstLine: String, line: Int) throws -> [String] {
    var cells: [String] = []
    var cell = ""
    var inQuotes = false
    var afterQuote = false  // just closed a quoted field: only ',' or the end may follow
    var text = firstLine
    while true {
      var characters = text.unicodeScalars.makeIterator()
      while let c = characters.next() {
        if inQuotes {
          if c == "\"" {
            inQuotes = false
            afterQuote = true
          } else {
            cell.unicodeScalars.append(c)
          }
        } else if c == "," {
          cells.append(cell)
          cell = ""
          afterQuote = false
        } else if c == "\"" {
          if afterQuote {  // "" inside a quoted field
            cell.unicodeScalars.append("\"")
            inQuotes = true
            afterQuote = false
          } else if cell.isEmpty {
            inQuotes = true
          } else {
            throw DataFileError(file: url.path, line: line, reason: .badQuote("a quote inside an unquoted field"))
          }
        } else if afterQuote {
          throw DataFileError(file: url.path, line: line, reason: .badQuote("text after a closing quote"))
        } else {
          cell.unicodeScalars.append(c)
        }
      }
      guard inQuotes else { break }
      guard let next = try lines.nextLine() else {
        throw DataFileError(file: url.path, line: line, reason: .badQuote("a quoted field is never closed"))
      }
      cell.append("\n")
      text = try decode(next, line: lines.lineNumber)
    }
    cells.append(cell)
    return cells
  }
}
