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
    let sourceKey = JSONString.quoted(sourceField)
    let targetKey = JSONString.quoted(targetField)
    try AtomicFile.write(to: url) { file in
      // Streams in chunks of about 1 MiB, so large sets need no second copy.
      var chunk = ""
      for example in examples {
        chunk += "{\(sourceKey): \(JSONString.quoted(example.source)), \(targetKey): \(JSONString.quoted(example.target))}\n"
        if chunk.utf8.count >= 1 << 20 {
          try file.write(Data(chunk.utf8))
          chunk = ""
        }
      }
      try file.write(Data(chunk.utf8))
    }
  }

}
