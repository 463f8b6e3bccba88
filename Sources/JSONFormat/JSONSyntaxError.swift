/// Why a text is not the JSON the parser accepts, and exactly where.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What is wrong ("expected ':'", "duplicate key 'steps'" …).
  public let reason: String
  /// The byte offset of the problem from the start of the text (0-based).
  public let offset: Int
  /// The 1-based line and column (in Unicode scalars) of `offset`.
  public let line: Int
  public let column: Int
  /// The keys and `[index]`es of the values that enclose the problem, outermost first.
  public internal(set) var path: [String] = []
  /// The repeated key, when the problem is a key given twice in one object.
  public let duplicateKey: String?

  init(reason: String, offset: Int, in bytes: [UInt8], duplicateKey: String? = nil) {
    self.reason = reason
    self.offset = offset
    self.duplicateKey = duplicateKey
    var line = 1
    var column = 1
    for byte in bytes[..<min(offset, bytes.count)] {
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {
        column += 1
      }
    }
    self.line = line
    self.column = column
  }

  /// The enclosing path in dotted form (`model.vocab[3]`), empty at the top level.
  public var pathText: String { JSONSyntaxError.dotted(path) }

  /// "line 3, column 19 (byte 45): duplicate key 'steps' in 'training'".
  public var description: String {
    let place = path.isEmpty ? "" : " in '\(pathText)'"
    return "line \(line), column \(column) (byte \(offset)): \(reason)\(place)"
  }

  /// Joins keys with dots and leaves `[index]` components attached.
  static func dotted(_ components: [String]) -> String {
    components.reduce(into: "") { text, component in
      if !text.isEmpty, !component.hasPrefix("[") { text += "." }
      text += component
    }
  }
}
