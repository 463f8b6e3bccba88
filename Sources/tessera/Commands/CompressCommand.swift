import Foundation
import JSONFormat
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers

/// `tessera compress`: offline low-rank factorisation of a model folder's layers.
enum CompressCommand {
  static let command = Command(
    path: ["compress"],
    summary: "Compress a model folder offline: its layers by SVD, Fisher-weighted SVD or weight autoencoders, or its shared embedding",
    discussion: """
      --method svd replaces each target layer W [out, in] by the best rank-r
      factors U [out, r] · V [r, in] (truncated SVD: LAPACK's sgesdd from the
      BLAS library when it has it, else a Jacobi SVD; both give the same
      factors), r = ⌊in·out / (R·(in + out))⌋, so each layer stores about 1/R
      of its weights and runs as two products. --method fwsvd (Fisher-weighted
      SVD) first sums, over the first --calibration training examples of --task
      or --data, each output row's squared gradients of the cross-entropy (its
      Fisher importance I) and factorises diag(√I)·W instead, so the rows that
      matter to the loss are kept best.

      --method ae trains, per layer, an autoencoder over the rows of W: a linear
      encoder to latents of width d and a linear decoder back, on 0.9091·(1 −
      cos) + 0.0909·RMSE with norm enforcement (each decoded row rescaled to its
      stored norm), starting from the rows' principal directions; kept are the
      latents, the norms and the decoder, sized to 1/R of the weights, and the
      weights are decoded once when the folder loads. ae-shared trains one
      autoencoder per matrix type across all blocks (every encoder query, …)
      and stores one decoder for them, so at the same size the latents are wider.
      --decoder tanh makes either non-linear: the decoder ends in tanh. For
      these methods only the blocks' layers are targets; embeddings, the head
      and norms stay as they are. Works on any model folder (a teacher, an
      assembly, a baseline).

      The folder keeps the factors (<layer>.down.weight, <layer>.up.weight) and
      a low_rank section in config.json listing each layer's rank; Tessera
      loads it like any model. --dense writes the products instead, a folder
      transformers loads. Prints the ranks, the sizes and, on a seeded random
      batch, how far the logits moved (relative to the uncompressed model's).

      --method embedding-ae | embedding-svd compresses the shared token
      embedding E [V, C] instead (direction-aware embedding compression, Bałazy
      et al. 2021): stored are latents [V, k] and a linear decoder k → C, with
      k = ⌊V·C / (R·(V + C))⌋. embedding-ae trains a linear autoencoder over
      the rows on (0.9975/5)·(1 − cos) + 0.0025·mean(|x̂ − x|^α), α annealed
      from 1 to 0.1 over --steps, from the SVD start; embedding-svd is the
      truncated SVD at the same size. The table is decoded once when the
      folder loads into a plain embedding; a tied head (T5 v1.0, BART) reads
      the same decoded table. An untied head (T5 v1.1's lm_head) is a layer
      of its own: it stays dense, only the input embedding is compressed (the
      command says so). Zero-shot: nothing is fine-tuned. The folder keeps
      <shared>.latents and <shared>.decoder.* and a compressed_embedding
      section in config.json (--dense: the decoded table); a later quantize
      leaves the tied head reading that table in fp32.

      EXAMPLES:
        tessera compress --model Checkpoints/demo/teacher --method svd --ratio 2 --out models/teacher-svd2
        tessera compress --model models/3x --method svd --ratio 1.5 --targets ffn --out models/3x-svd-ffn
        tessera compress --model Checkpoints/demo/teacher --method fwsvd --ratio 1.25 --task numbers --out models/teacher-fwsvd
        tessera compress --model Checkpoints/demo/teacher --method embedding-ae --ratio 10 --out models/teacher-emb10
        tessera compress --model models/teacher-svd2 --method embedding-svd --ratio 4 --out models/teacher-svd2-emb4
      """,
    options: [
      .value("--model", "DIR", "Model folder to compress (required)"),
      .value("--method", "NAME", "svd, fwsvd (Fisher-weighted: needs --task or --data), ae, ae-shared, embedding-ae or embedding-svd (required)"),
      .value("--steps", "N", "ae, ae-shared, embedding-ae: Adam steps per autoencoder", default: "1000"),
      .value("--decoder", "linear|tanh", "ae, ae-shared: a linear decoder, or one ending in tanh (the non-linear autoencoder)", default: "linear"),
      .value("--ratio", "R", "Each target layer (or the embedding) keeps about 1/R of its weights, R > 1 (required)"),
      .value("--targets", "LIST", "Layers to factorise: attention, ffn (default: both; not for embedding-…)"),
      .value("--out", "DIR", "Output model folder (required; an existing one must be a model folder Tessera wrote)"),
      .value("--calibration", "N", "fwsvd: training examples whose squared gradients weight the rows", default: "256"),
    ] + DatasetOptions.options + [
      .flag("--dense", "Write the factor products as plain fp32 weights (for transformers)"),
      .flag("--force", "Let --out replace another kind of Tessera output (never files Tessera did not write)"),
    ]
  ) { arguments in
    let source = URL(fileURLWithPath: try arguments.require("--model"))
    let methodName = try arguments.require("--method")
    guard let method = CompressionMethod(rawValue: methodName) else {
      throw UsageError("--method must be \(CompressionMethod.allCases.map(\.rawValue).joined(separator: ", ")), got '\(methodName)'")
    }
    if !method.needsCalibration, arguments.string("--task") != nil || arguments.string("--data") != nil {
      throw UsageError("--method \(method.rawValue) uses no data; --task and --data are for fwsvd's calibration")
    }
    guard let ratio = try arguments.double("--ratio"), ratio.isFinite, ratio > 1 else {
      throw UsageError("--ratio must be a number > 1 (each target layer keeps about 1/R of its weights)")
    }
    if method.compressesEmbedding, arguments.string("--targets") != nil {
      throw UsageError("--targets names block layers; --method \(method.rawValue) compresses the shared embedding")
    }
    let settings = CompressionSettings(
      method: method, ratio: ratio, targets: try targets(arguments).sorted { $0.rawValue < $1.rawValue },
      steps: try arguments.positiveInt("--steps") ?? AutoencoderSettings().steps,
      calibration: try arguments.positiveInt("--calibration") ?? 256, decoder: try decoderActivation(arguments, method: method))
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let model = try ModelLoading.load(from: source)
    if let scheme = ModelQuantization.scheme(of: model) {
      throw UsageError("\(source.path) is quantized (\(scheme.rawValue)); compress its fp32 model, then quantize")
    }
    guard method.compressesEmbedding || !LowRankCompression.targetLayers(of: model, targets: Set(settings.targets)).isEmpty else {
      throw UsageError("\(source.path) has no dense \(settings.targets.map(\.rawValue).joined(separator: " or ")) layers left to factorise")
    }
    try OutputFolder.claim(out, as: .model, force: arguments.has("--force"), reading: [source])
    let probe = try ModelProbe(model)
    let before = EmbeddingCompression.storedParameterCount(of: model), storedBefore = ModelQuantization.storedBytes(of: model)
    var calibration: TokenizedExamples?
    if method.needsCalibration {
      var data = DatasetSpec()
      try DatasetOptions.apply(arguments, to: &data)
      if arguments.string("--train-examples") == nil { data.trainExamples = settings.calibration }
      let examples = Array(try data.examples(.train).prefix(settings.calibration))
      guard !examples.isEmpty else { throw UsageError("the training split of \(data.displayName) has no examples to calibrate on") }
      calibration = TokenizedExamples(examples, tokenizer: try loadTokenizer(from: source, fitting: model))
    }
    let progress = StagedProgress()
    let summary = try settings.apply(to: model, calibration: calibration, progress: progress.update)
    progress.finish()
    try TransformedFolder.save(model, from: source, to: out, stage: "compress", settings: settings.provenance, arguments: arguments)
    let storedAfter = ModelQuantization.storedBytes(of: model), after = EmbeddingCompression.storedParameterCount(of: model)
    let sizes = """
      parameters: \(before.formatted()) → \(after.formatted()) (\(String(format: "%.2f", Double(before) / Double(after)))× fewer); \
      stored weights: \(storedBefore.formatted()) → \(storedAfter.formatted()) bytes (\(String(format: "%.2f", Double(storedBefore) / Double(storedAfter)))× smaller)
      """
    print("""
      \(summary)
      \(sizes)
      \(probe.describeChange(model))
      saved \(out.path)\(arguments.has("--dense") ? " (factor products as fp32, for transformers)" : "")
      """)
  }
}

extension CompressCommand {
  /// The decoder `--decoder` names (linear unless given).
  static func decoderActivation(_ arguments: ParsedArguments, method: CompressionMethod) throws -> RowDecoder.Activation {
    guard let name = arguments.string("--decoder") else { return .linear }
    guard let activation = RowDecoder.Activation(rawValue: name) else {
      throw UsageError("--decoder must be \(RowDecoder.Activation.allCases.map(\.rawValue).joined(separator: " or ")), got '\(name)'")
    }
    guard activation == .linear || method.takesDecoderActivation else { throw UsageError("--decoder tanh is for --method ae and ae-shared") }
    return activation
  }

  /// The layers `--targets` names (compress and prune).
  static func targets(_ arguments: ParsedArguments) throws -> Set<CompressionTarget> {
    try Set((arguments.list("--targets") ?? ["attention", "ffn"]).map { name in
      guard let target = CompressionTarget(rawValue: name) else {
        throw UsageError("--targets takes \(CompressionTarget.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
      }
      return target
    })
  }
}

/// The logits of a model on a seeded random batch, to say how far a transform moved them.
struct ModelProbe {
  let batch: Seq2SeqBatch
  let reference: Tensor

  init(_ model: any Seq2SeqModel) throws {
    let batch = try QuantizeCommand.probeBatch(for: model)
    self.batch = batch
    reference = withoutGradient { model.forward(batch) }
  }

  /// "logits on a random batch: relative error …" for `model` after the transform.
  func describeChange(_ model: any Seq2SeqModel) -> String {
    let changed = withoutGradient { model.forward(batch) }
    return "logits on a random batch: relative error " + String(format: "%.2e", changed.relativeError(to: reference))
  }
}
