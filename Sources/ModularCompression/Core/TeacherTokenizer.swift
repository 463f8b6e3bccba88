import Foundation
import Seq2SeqModels
import Tokenizers

/// The tokenizer of a teacher folder, refused when it can produce ids outside
/// the teacher's vocabulary (they would index past its embedding table).
func loadTokenizer(from folder: URL, fitting model: any Seq2SeqModel) throws -> any TextTokenizer {
  let tokenizer = try loadTokenizer(from: folder)
  try ModelInputChecks.tokenizer(
    tokenizer, fits: model, tokenizerFile: folder.appendingPathComponent("tokenizer.json").path, modelFolder: folder.path)
  return tokenizer
}
