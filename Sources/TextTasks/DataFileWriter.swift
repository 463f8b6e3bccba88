import Foundation

/// Writes example files. Every write is atomic: a temporary file in the same
/// folder, flushed to disk, then renamed over the destination, so a reader
/// never sees half a file.
public enum DataFileWriter {
  /// Writes `examples` as JSONL, one `{"source": …, "target": …}` object per
  /// line, keys in that order, non-ASCII text kept as UTF-8. The same examples
  /// always give the same bytes.
  public static func writeJSONL(
    _ examples: [Example], to url: URL, sourceField: String = "source", targetField: String = "target"
  ) throws {
    var text = ""
    text.reserveCapacity(examples.count * 64)
    let sourceKey = jsonQuoted(sourceField)
    let targetKey = jsonQuoted(targetField)
    for example in examples {
      text += "{\(sourceKey): \(jsonQuoted(example.source)), \(targetKey): \(jsonQuoted(example.target))}\n"
    }
    try writeAtomically(Data(text.utf8), to: url)
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

  /// Writes `data` to `url` through a temporary file and a rename.
  public static func writeAtomically(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
      try data.write(to: temporary)
      let handle = try FileHandle(forUpdating: temporary)
      try handle.synchronize()
      try handle.close()
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw DataFileError(file: url.path, reason: .unwritable((error as NSError).localizedDescription))
    }
    guard rename(temporary.path, url.path) == 0 else {
      let why = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw DataFileError(file: url.path, reason: .unwritable("cannot rename into place: \(why)"))
    }
  }
}
