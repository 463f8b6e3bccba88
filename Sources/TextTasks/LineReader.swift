import Foundation

/// Reads a file line by line through a fixed buffer, so files larger than
/// memory stream. Lines end at `\n`; a `\r` before it is dropped; the last line
/// needs no newline. A UTF-8 byte-order mark at the start is skipped.
final class LineReader {
  private let handle: FileHandle
  private let path: String
  private var buffer: [UInt8] = []
  private var start = 0
  private var atEnd = false
  private static let chunkSize = 1 << 16
  /// The 1-based number of the line last returned.
  private(set) var lineNumber = 0

  init(url: URL) throws {
    path = url.path
    do {
      handle = try FileHandle(forReadingFrom: url)
    } catch {
      throw DataFileError(file: url.path, reason: .unreadable(LineReader.reason(error)))
    }
  }

  deinit { try? handle.close() }

  /// The next line's bytes without its terminator, or nil at the end of the file.
  func nextLine() throws -> ArraySlice<UInt8>? {
    while true {
      if let newline = buffer[start...].firstIndex(of: 0x0A) {
        var end = newline
        if end > start && buffer[end - 1] == 0x0D { end -= 1 }
        let line = buffer[start..<end]
        start = newline + 1
        return finish(line)
      }
      if atEnd {
        guard start < buffer.count else { return nil }
        var end = buffer.count
        if buffer[end - 1] == 0x0D { end -= 1 }
        let line = buffer[start..<end]
        start = buffer.count
        return finish(line)
      }
      try fill()
    }
  }

  private func finish(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    lineNumber += 1
    if lineNumber == 1 && line.starts(with: [0xEF, 0xBB, 0xBF]) { return line.dropFirst(3) }
    return line
  }

  private func fill() throws {
    if start > 0 {
      buffer.removeSubrange(0..<start)
      start = 0
    }
    let chunk: Data?
    do {
      chunk = try handle.read(upToCount: LineReader.chunkSize)
    } catch {
      throw DataFileError(file: path, reason: .unreadable(LineReader.reason(error)))
    }
    if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { atEnd = true }
  }

  private static func reason(_ error: Error) -> String {
    (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
  }
}

/// The text of strictly valid UTF-8 bytes, or nil (no silent replacement characters).
func decodeUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
  var decoder = UTF8()
  var iterator = bytes.makeIterator()
  var scalars = String.UnicodeScalarView()
  while true {
    switch decoder.decode(&iterator) {
    case .scalarValue(let scalar): scalars.append(scalar)
    case .emptyInput: return String(scalars)
    case .error: return nil
    }
  }
}

/// Plain-text files of one segment per line (hypotheses, references).
public enum SegmentFile {
  /// Every line of `url`, without line terminators. A final newline does not
  /// start an extra segment; blank lines are kept as empty segments. Invalid
  /// UTF-8 is an error naming the file and line.
  public static func readLines(_ url: URL) throws -> [String] {
    let reader = try LineReader(url: url)
    var lines: [String] = []
    while let bytes = try reader.nextLine() {
      guard let line = decodeUTF8(bytes) else {
        throw DataFileError(file: url.path, line: reader.lineNumber, reason: .invalidUTF8)
      }
      lines.append(line)
    }
    return lines
  }
}
