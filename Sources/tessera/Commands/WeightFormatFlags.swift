import Foundation
import Seq2SeqModels

/// `--dtype` and `--max-shard-size`, on the commands that write model folders.
enum WeightFormatFlags {
  static let options: [Option] = [
    .value("--dtype", "TYPE", "Weight type written: f32, f16 or bf16", default: "f32"),
    .value(
      "--max-shard-size", "SIZE",
      "Split weights into shards of at most SIZE (e.g. 500MB, 2GB, 64KiB) with model.safetensors.index.json"),
  ]

  static func format(_ arguments: ParsedArguments) throws -> WeightFileFormat {
    let text = arguments.string("--dtype") ?? "f32"
    guard let dtype = WeightFileFormat.parseDType(text) else { throw UsageError("--dtype must be f32, f16 or bf16, got '\(text)'") }
    var format = WeightFileFormat(dtype: dtype)
    if let size = arguments.string("--max-shard-size") {
      guard let bytes = WeightFileFormat.parseSize(size) else {
        throw UsageError("--max-shard-size expects a size such as 500MB, 2GB or 64KiB, got '\(size)'")
      }
      format.maxShardBytes = bytes
    }
    return format
  }
}
