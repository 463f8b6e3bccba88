import Foundation
import TensorCore

/// Writes example files, atomically (TensorCore's `AtomicFile`: a temporary
/// file in the same folder, synced, then renamed), so a reader never sees half
/// a file.
public enum DataFileWriter {
  /// Writes `examples` as JSONL, one `{"source": …, "target": …}` object per
  /// line, keys in that order, non-ASCII text kept as UTF-8. The same examples
  /// always give the same bytes.
  public static func writeJSONL(
    _ examples: [Example], to url: URL, sourceField: String = "source", targetField: String = "target"
  ) throws {
    let sourceKey = jsonQuoted(sourceField)
    let targetKey = jsonQuoted(targetField)
    try AtomicFile.write(to: url) { file in
      // Streams in chunks of about 1 MiB, so large sets need no second copy.
      var chunk = ""
      for example in examples {
        chunk += "{\(sourceKey): \(jsonQuoted(example.source)), \(targetKey): \(jsonQuoted(example.target))}\n"
        if chunk.utf8.count >= 1 << 20 {
          try file.write(Data(chunk.utf8))
          chunk = ""
        }
      }
      try file.write(Data(chunk.utf8))
    }
  }

  /// `text` as a JSON string literal.
  public static func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
