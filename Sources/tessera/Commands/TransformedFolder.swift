import Foundation
import JSONFormat
import ModularCompression
import Seq2SeqModels

/// Saving what `compress`, `prune` and `quantize` made from `source`: its
/// tokenizer and generation settings carried over, `--dense` honoured, and
/// the stage appended to the provenance chain.
enum TransformedFolder {
  /// Bytes as kilobytes with one decimal, as the transform commands report sizes.
  static func kilobytes(_ bytes: Int) -> String { (Double(bytes) / 1000).formatted(.number.precision(.fractionLength(1))) }

  static func save(
    _ model: any Seq2SeqModel, from source: URL, to out: URL, stage: String, settings: [(String, JSONValue)],
    arguments: ParsedArguments
  ) throws {
    let dense = arguments.has("--dense")
    try ModelExport.save(
      model, to: out, tokenizer: try tokenizerIfPresent(in: source),
      extraFiles: try ModelExport.generationConfigCopy(from: source, for: model), format: WeightFileFormat(dense: dense),
      configSections: [(TransformChain.sectionKey, try TransformChain.extended(
        from: source, stage: stage, settings: settings + [("dense", .bool(dense))]))])
  }
}
