import Foundation
import JSONFormat
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers

/// `tessera quantize`: int8 or bf16 weights for any model folder.
enum QuantizeCommand {
  static let command = Command(
    path: ["quantize"],
    summary: "Quantize a model folder's linear layers to int8 or bf16",
    discussion: """
      int8: every linear layer of both stacks (and the head) keeps int8 weights
      with one symmetric scale per output row; inputs are quantized to int8 per
      row on each call and multiplied in int32 (AVX-512 VNNI where the CPU has
      it). bf16: weights rounded to bfloat16, products in fp32. A head tied to
      the shared embedding is quantized with it: lookups and logits use the same
      stored table. Works on any model folder (a teacher, an assembly, a baseline).

      The folder stores I8 weights with F32 `weight_scale` (or BF16) and a
      `quantization` section in config.json; Tessera loads it like any model
      (generate, evaluate, compare, bench model --model). --dense writes the
      dequantized weights as fp32 instead, a folder transformers loads.

      Prints the stored size and, on a seeded random batch, how far the logits
      moved (relative to the fp32 model's).

      EXAMPLES:
        tessera quantize --model Checkpoints/demo/teacher --scheme int8 --out models/teacher-int8
        tessera quantize --model models/3x --scheme bf16 --keep-fp32 lm_head --out models/3x-bf16
      """,
    options: [
      .value("--model", "DIR", "Model folder to quantize (required)"),
      .value("--scheme", "NAME", "int8 or bf16 (required)"),
      .value("--keep-fp32", "KEYS", "Layers to leave in fp32: key paths, prefixes or last segments (e.g. lm_head,DenseReluDense.wo)"),
      .value("--out", "DIR", "Output model folder (required; an existing one must be a model folder Tessera wrote)"),
      .flag("--dense", "Write the dequantized weights as fp32 (for transformers) instead of I8/BF16"),
      .flag("--force", "Let --out replace another kind of Tessera output (never files Tessera did not write)"),
    ]
  ) { arguments in
    let source = URL(fileURLWithPath: try arguments.require("--model"))
    let schemeName = try arguments.require("--scheme")
    guard let scheme = QuantizationScheme(rawValue: schemeName) else {
      throw UsageError("--scheme must be \(QuantizationScheme.allCases.map(\.rawValue).joined(separator: " or ")), got '\(schemeName)'")
    }
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let model = try ModelLoading.load(from: source)
    if let existing = ModelQuantization.scheme(of: model) {
      throw UsageError("\(source.path) is already quantized (\(existing.rawValue)); quantize the fp32 model it came from")
    }
    try OutputFolder.claim(out, as: .model, force: arguments.has("--force"), reading: [source])
    let settings = QuantizationSettings(scheme: scheme, keepFP32: arguments.list("--keep-fp32") ?? [])
    let probe = try ModelProbe(model)
    let storedBefore = ModelQuantization.storedBytes(of: model)
    let layers = try ModelQuantization.quantize(model, settings: settings)
    try TransformedFolder.save(
      model, from: source, to: out, stage: "quantize",
      settings: [("scheme", .string(scheme.rawValue)), ("keep_fp32", .array(settings.keepFP32.map { .string($0) }))], arguments: arguments)
    let bytes = ModelQuantization.storedBytes(of: model)
    let kernels = scheme.kernelName
    print("""
      quantized \(layers.count) linear layers to \(scheme.rawValue) (kernels: \(kernels))
      stored weights: \(TransformedFolder.kilobytes(storedBefore)) KB → \(TransformedFolder.kilobytes(bytes)) KB (\(String(format: "%.2f", Double(storedBefore) / Double(bytes)))× smaller)
      \(probe.describeChange(model))
      saved \(out.path)\(arguments.has("--dense") ? " (dequantized fp32, for transformers)" : "")
      """)
  }

  /// Four rows of 16 random source and 8 target tokens (ids from 3 up).
  static func probeBatch(for model: any Seq2SeqModel) throws -> Seq2SeqBatch {
    var generator = SeededRandom(seed: 5)
    let (rows, sourceLength, targetLength) = (4, 16, 8)
    let draw = { (count: Int) in (0..<count).map { _ in 3 + generator.nextInt(below: Swift.max(1, model.vocabularySize - 3)) } }
    let ids = draw(rows * sourceLength), labels = draw(rows * targetLength)
    let decoderIDs = (0..<rows).flatMap { row in
      [model.specialTokens.decoderStart] + labels[(row * targetLength)..<(row * targetLength + targetLength - 1)]
    }
    return Seq2SeqBatch(
      batchSize: rows, sourceLength: sourceLength, sourceIDs: ids, sourceKeep: [Float](repeating: 1, count: ids.count),
      targetLength: targetLength, decoderInputIDs: decoderIDs, labels: labels)
  }
}
