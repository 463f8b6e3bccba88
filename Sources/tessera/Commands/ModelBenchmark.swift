import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// `tessera bench model`: training throughput and greedy decoding latency of a
/// T5, optionally beside PyTorch on the same weights.
enum ModelBenchmark {
  static let command = Command(
    path: ["bench", "model"],
    summary: "Training tokens/s, peak memory, and fp32/bf16/int8 decoding speed of a model (beside PyTorch and CTranslate2)",
    discussion: """
      Training: forward + backward + AdamW on a batch of 16 × 64 source and 16 × 64
      target tokens (no padding), then where its memory went: parameters, AdamW
      moments, gradients, activations and tape at the peak, the buffer pool's idle
      buffers, and what the process holds besides tensors (peak RSS); --train-steps 0
      leaves training out.

      Decoding, for each of --schemes (fp32, and bf16 / int8 quantized in memory as
      tessera quantize does): a 64-token source, exactly 32 new tokens (end of
      sequence suppressed), encoder included: greedy latency at batch 1, greedy
      throughput at --batch rows, 4-beam latency, the weight bytes one step reads
      (decoder layers but the cross-attention keys and values, plus the head) and
      the memory-bandwidth bound (those bytes × 32 over the read bandwidth
      measured in the same run) with the latency's ratio to it.

      --shape builds a model with seeded random weights: small (T5, d_model 256,
      6+6 layers, d_ff 1024, 4 heads, vocabulary 32128; the default), t5-small
      (d_model 512, d_ff 2048, 8 heads) or bart-base (d_model 768, ffn 3072, 12
      heads, vocabulary 50265); --model DIR benchmarks a model folder instead.

      --torch runs Tests/Reference/bench_torch.py on the same weights in a second
      process (python3 with torch and transformers) and prints both, their ratio
      and both peak resident sets. --ct2 runs Tests/Reference/bench_ct2.py:
      CTranslate2 float32 and int8 on the same weights (batch 1 and --batch),
      each set beside Tessera's fp32 and int8.

      EXAMPLES:
        swift build -c release && .build/release/tessera bench model --shape t5-small --threads 2 --torch
        .build/release/tessera bench model --shape t5-small --threads 2 --train-steps 0 --ct2 --torch
      """,
    options: BenchShape.options(subject: "Model") + [
      .value("--train-steps", "N", "Timed training steps after one warm-up; 0: decoding alone", default: "5"),
      .value("--decode-runs", "N", "Timed decoding runs after one warm-up", default: "5"),
      .value("--schemes", "LIST", "Weight types to decode with: fp32, bf16, int8", default: "fp32,bf16,int8"),
      .value("--batch", "N", "Rows of the batched greedy throughput run", default: "32"),
      .flag("--ct2", "Also run CTranslate2 (float32 and int8) on the same weights (pip install ctranslate2)"),
    ] + BenchShape.runOptions(torch: "Also run the PyTorch reference on the same weights")
  ) { arguments in
    if let threads = try arguments.positiveInt("--threads") { ThreadCount.set(threads) }
    let trainSteps = try arguments.int("--train-steps") ?? 5
    guard trainSteps >= 0 else { throw UsageError("--train-steps must be ≥ 0 (0: decoding alone)") }
    let decodeRuns = try arguments.positiveInt("--decode-runs") ?? 5
    let batchRows = try arguments.positiveInt("--batch") ?? 32
    let schemes = try DecodingScheme.parse(arguments.list("--schemes") ?? ["fp32", "bf16", "int8"])
    let folder = try BenchShape.folder(arguments)
    let model = try ModelLoading.load(from: folder)
    if let scheme = ModelQuantization.scheme(of: model) {
      throw UsageError("\(folder.path) is quantized already (\(scheme.rawValue)); bench its fp32 folder (--schemes quantizes it in memory)")
    }
    print("model: \(model.modelType) \(model.encoder.depth)+\(model.decoder.depth) layers, d_model \(model.modelWidth), \(model.parameterCount.formatted()) parameters; BLAS: \(BLAS.backendName); kernels: \(KernelChoice.name), int8 \(QuantizationScheme.int8.kernelName), bf16 \(QuantizationScheme.bf16.kernelName); threads \(ThreadCount.current)")

    var torchResident: Int?
    if trainSteps > 0 {
      TrainingMemory.start()
      let tokensPerSecond = try measureTraining(model, steps: trainSteps)
      let memory = TrainingMemory.finish(parameters: model.parameterCount, trainable: model.parameterCount)
      var row = String(format: "%.0f", tokensPerSecond)
      if arguments.has("--torch") {
        let torch = try runReferenceScript(
          "bench_torch.py",
          arguments: ["--model", folder.path, "--threads", String(ThreadCount.current), "--train-steps", String(trainSteps), "--skip-decode"])
        let training = torch["training"] as? [String: Any]
        if let t = training?["source_plus_target_tokens_per_second"] as? Double {
          row += String(format: "  PyTorch %.0f  ratio %.2f×", t, tokensPerSecond / t)
        }
        torchResident = training?["peak_rss_bytes"] as? Int
      }
      print("training tokens/s (16×64 + 16×64)".padding(toLength: 36, withPad: " ", startingAt: 0) + row)
      memory.print(torchResident: torchResident)
    }
    try DecodingBenchmark(folder: folder, runs: decodeRuns, batchRows: batchRows, schemes: schemes)
      .run(torch: arguments.has("--torch"), ct2: arguments.has("--ct2"))
  }

  /// Median tokens per second of forward + backward + AdamW steps.
  static func measureTraining(_ model: any Seq2SeqModel, steps: Int) throws -> Double {
    let batch = try benchTrainingBatch(for: model)
    let optimizer = AdamW(model, configuration: AdamWConfiguration(learningRate: 1e-4))
    let seconds = medianSeconds(runs: steps) { step in
      optimizer.zeroGrad()
      let dropout = Dropout(rate: model.dropoutRate, generator: SeededRandom(seed: 2).split(UInt64(step)))
      model.loss(logits: model.forward(batch, dropout: dropout.closure), batch: batch).backward()
      optimizer.update()
    }
    return Double(batch.sourceIDs.count + batch.labels.count) / seconds
  }
}
