import Foundation
import Seq2SeqModels
import Tokenizers

/// The tokenizer of a teacher folder, refused when it can produce ids outside
/// the teacher's vocabulary (they would index past its embedding table).
public func loadTokenizer(from folder: URL, fitting model: any Seq2SeqModel) throws -> any TextTokenizer {
  let tokenizer = try loadTokenizer(from: folder)
  try ModelInputChecks.tokenizer(
    tokenizer, fits: model, tokenizerFile: folder.appendingPathComponent("tokenizer.json").path, modelFolder: folder.path)
  return tokenizer
}

/// The tokenizer of a model folder, or nil when it has no `tokenizer.json`
/// (a model folder carries its tokenizer into the folders made from it).
public func tokenizerIfPresent(in folder: URL) throws -> (any TextTokenizer)? {
  FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) ? try loadTokenizer(from: folder) : nil
}
