import Foundation
import JSONFormat

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The file a model folder keeps its tokenizer in.
public let tokenizerFileName = "tokenizer.json"
/// The Hugging Face file naming the special tokens.
public let tokenizerConfigFileName = "tokenizer_config.json"

/// Reads the tokenizer of a model folder: our `tessera-bytes` file, or a
/// Hugging Face `tokenizer.json` (Unigram or BPE), with special tokens taken
/// from `tokenizer_config.json` / `special_tokens_map.json` when present.
///
/// - Throws: `TokenizerError` naming the file and field when a file is
///   missing, is not JSON, or uses a model type or component this package
///   does not implement.
public func loadTokenizer(from folder: URL) throws -> any TextTokenizer {
  let fileURL = folder.appendingPathComponent(tokenizerFileName)
  let data = try readTokenizerFile(fileURL)
  let root = JSONField(root: try JSONValue.parse(data, source: fileURL.path), file: fileURL.path)
  if let type = try root["type"].optionalString() {
    guard type == ByteTokenizer.fileType else {
      throw root["type"].error(
        "unknown tokenizer type \"\(type)\" (expected \"\(ByteTokenizer.fileType)\" or a Hugging Face tokenizer.json)")
    }
    return try ByteTokenizer(checking: root)
  }
  return try HuggingFaceTokenizer(folder: folder)
}

/// The bytes of `url`, or an error naming it.
func readTokenizerFile(_ url: URL) throws -> Data {
  guard FileManager.default.fileExists(atPath: url.path) else {
    throw TokenizerError(file: url.path, message: "file not found")
  }
  do {
    return try Data(contentsOf: url)
  } catch {
    throw TokenizerError(file: url.path, message: "cannot be read (\(error.localizedDescription))")
  }
}

/// Writes `data` to a temporary file next to `url`, flushes it to disk, then
/// renames it over `url`, so a reader never sees half a file.
func writeAtomically(_ data: Data, to url: URL) throws {
  let folder = url.deletingLastPathComponent()
  do {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
      throw TokenizerError(file: url.path, message: "cannot be written (cannot create \(temporary.lastPathComponent))")
    }
    let handle = try FileHandle(forWritingTo: temporary)
    do {
      try handle.write(contentsOf: data)
      try handle.synchronize()
      try handle.close()
    } catch {
      try? handle.close()
      try? FileManager.default.removeItem(at: temporary)
      throw error
    }
    guard rename(temporary.path, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw TokenizerError(file: url.path, message: "cannot be written (\(reason))")
    }
  } catch let error as TokenizerError {
    throw error
  } catch {
    throw TokenizerError(file: url.path, message: "cannot be written (\(error.localizedDescription))")
  }
}
