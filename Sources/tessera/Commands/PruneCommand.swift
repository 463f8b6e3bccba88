import Foundation
import JSONFormat
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers

/// `tessera prune`: offline magnitude or structured pruning of a model folder's layers.
enum PruneCommand {
  static let command = Command(
    path: ["prune"],
    summary: "Prune a model folder's attention and feed-forward layers offline: magnitude (unstructured) or structured (heads, units)",
    discussion: """
      --method magnitude zeroes the share S of the target layers' weights with
      the smallest magnitudes: one threshold over all of them (--scope global,
      the default) or the same share of each layer (--scope layer). The folder
      stores each pruned layer sparse, so its file shrinks: <layer>.weight_mask
      (U8, the nonzero entries' bits packed row-major, least significant bit
      first) and <layer>.weight_values (F32, those entries), listed in a pruning
      section of config.json; Tessera decodes them once at load into dense
      layers with zeros. --dense writes the plain fp32 weights (zeros in place),
      a folder transformers loads.

      --method structured removes the share S of the attention heads and of the
      feed-forward units (rounded; at least one of each stays) from every layer,
      so the result is an ordinary smaller model (num_heads and d_ff in T5's
      config.json, encoder_ffn_dim and decoder_ffn_dim in BART's) that runs
      faster and that transformers loads. A head's importance is the L2 norm of
      its query, key and value rows and output columns; each stack keeps the
      same heads in all its layers (by importance summed over them), since T5's
      relative position bias is one table for the stack, whose columns of the
      removed heads go too. A unit's importance is the L2 norm of its input
      (and gate) rows and output column, chosen per layer. BART derives its head
      width from d_model / heads, so BART prunes with --targets ffn only.

      Only the blocks' dense layers are targets; embeddings, the head and norms
      stay. Works on any fp32 model folder (a teacher, an assembly, a baseline,
      a magnitude-pruned folder); structured pruning needs every layer dense
      (prune before compress or quantize). Quantizing a magnitude-pruned folder
      keeps its zeros (int8 of 0 is 0) but stores int8 weights densely.
      Prints the weight file sizes and, on a seeded random batch, how far the
      logits moved (relative to the unpruned model's).

      EXAMPLES:
        tessera prune --model Checkpoints/demo/teacher --method magnitude --sparsity 0.5 --out models/teacher-mag50
        tessera prune --model Checkpoints/demo/teacher --method magnitude --sparsity 0.8 --scope layer --targets ffn --out models/teacher-ffn80
        tessera prune --model Checkpoints/demo/teacher --method structured --sparsity 0.25 --out models/teacher-heads25
      """,
    options: [
      .value("--model", "DIR", "Model folder to prune (required)"),
      .value("--method", "NAME", "magnitude or structured (required)"),
      .value("--sparsity", "S", "Share of the target weights (magnitude) or of heads and units (structured) removed, 0 < S < 1 (required)"),
      .value("--scope", "NAME", "magnitude: global (one threshold over all target layers, the default) or layer (the same share of each)"),
      .value("--targets", "LIST", "Layers to prune: attention, ffn", default: "attention,ffn"),
      .value("--out", "DIR", "Output model folder (required; an existing one must be a model folder Tessera wrote)"),
      .flag("--dense", "magnitude: write the pruned weights as plain fp32 (for transformers) instead of mask + values"),
      .flag("--force", "Let --out replace another kind of Tessera output (never files Tessera did not write)"),
    ]
  ) { arguments in
    let source = URL(fileURLWithPath: try arguments.require("--model"))
    let methodName = try arguments.require("--method")
    guard let method = PruningSettings.Method(rawValue: methodName) else {
      throw UsageError("--method must be magnitude or structured, got '\(methodName)'")
    }
    guard let sparsity = try arguments.double("--sparsity"), sparsity > 0, sparsity < 1 else {
      throw UsageError("--sparsity must be a number between 0 and 1 (the share removed), exclusive")
    }
    let scopeName = arguments.string("--scope")
    if method == .structured, let scopeName {
      throw UsageError("--scope \(scopeName) is for magnitude pruning; structured pruning removes the same share of every layer")
    }
    if method == .structured, arguments.has("--dense") {
      throw UsageError("--dense is for magnitude pruning; a structured-pruned folder is plain fp32 already")
    }
    guard let scope = PruningScope(rawValue: scopeName ?? PruningScope.global.rawValue) else {
      throw UsageError("--scope must be \(PruningScope.allCases.map(\.rawValue).joined(separator: " or ")), got '\(scopeName!)'")
    }
    let settings = PruningSettings(
      method: method, sparsity: sparsity, scope: scope, targets: try CompressCommand.targets(arguments).sorted { $0.rawValue < $1.rawValue })
    let targets = Set(settings.targets)
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let model = try ModelLoading.load(from: source)
    if let scheme = ModelQuantization.scheme(of: model) {
      throw UsageError("\(source.path) is quantized (\(scheme.rawValue)); prune its fp32 model, then quantize")
    }
    let probe = try ModelProbe(model)
    let before = try CheckpointFiles.byteCount(in: source)
    let layers = LowRankCompression.targetLayers(of: model, targets: targets)
    if method == .magnitude, layers.isEmpty {
      throw UsageError("\(source.path) has no dense \(settings.targets.map(\.rawValue).joined(separator: " or ")) layers to prune")
    }
    let old = method == .structured ? try StructuredPruning.sizes(of: model) : nil
    let pruned = try settings.applied(to: model)
    let summary: String
    if let old {
      let new = try StructuredPruning.sizes(of: pruned)
      let heads = StackRole.allCases.map { "\($0.rawValue) \(old.heads[$0] ?? 0) → \(new.heads[$0] ?? 0)" }
      let units = StackRole.allCases.map { "\($0.rawValue) \(old.feedForwardWidths[$0] ?? 0) → \(new.feedForwardWidths[$0] ?? 0)" }
      summary = "heads per layer: \(heads.joined(separator: ", ")); feed-forward units: \(units.joined(separator: ", "))\n"
        + "parameters: \(model.parameterCount.formatted()) → \(pruned.parameterCount.formatted())"
    } else {
      summary = "pruned \(layers.count) layers by magnitude (\(scope.rawValue) scope): "
        + String(format: "%.1f%% of their weights are zero", 100 * MagnitudePruning.sparsity(of: layers))
    }
    try OutputFolder.claim(out, as: .model, force: arguments.has("--force"), reading: [source])
    try TransformedFolder.save(pruned, from: source, to: out, stage: "prune", settings: settings.provenance, arguments: arguments)
    let after = try CheckpointFiles.byteCount(in: out)
    print("""
      \(summary)
      weight files: \(TransformedFolder.kilobytes(before)) KB → \(TransformedFolder.kilobytes(after)) KB (\(String(format: "%.2f", Double(before) / Double(after)))× smaller)
      \(probe.describeChange(pruned))
      saved \(out.path)\(arguments.has("--dense") ? " (plain fp32 with zeros, for transformers)" : "")
      """)
  }
}
