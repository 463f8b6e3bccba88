import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// `tessera bench model`: training throughput and greedy decoding latency of a
/// T5, optionally beside PyTorch on the same weights.
enum ModelBenchmark {
  static let command = Command(
    path: ["bench", "model"],
    summary: "T5 training tokens/s and greedy decoding latency (beside PyTorch with --torch)",
    discussion: """
      Training: forward + backward + AdamW on a batch of 16 × 64 source and 16 × 64
      target tokens (no padding). Decoding: batch 1, a 64-token source, exactly 32
      new tokens (end of sequence suppressed), encoder included, with the KV cache.
      The default model is a T5 with d_model 256, 6+6 layers, d_ff 1024, 4 heads,
      vocabulary 32128, seeded random weights; --model DIR benchmarks a model folder.

      --torch runs Tests/Reference/bench_torch.py on the same weights (it needs
      python3 with torch and transformers) and prints both and their ratio.

      EXAMPLE:
        swift build -c release && .build/release/tessera bench model --torch
      """,
    options: [
      .value("--model", "DIR", "Benchmark this model folder instead of the default T5"),
      .value("--train-steps", "N", "Timed training steps after one warm-up", default: "5"),
      .value("--decode-runs", "N", "Timed decoding runs after one warm-up", default: "5"),
      .value("--threads", "N", "Threads for kernels and BLAS (default: all cores)"),
      .flag("--torch", "Also run the PyTorch reference on the same weights"),
    ]
  ) { arguments in
    if let threads = try arguments.positiveInt("--threads") { ThreadCount.set(threads) }
    let trainSteps = try arguments.positiveInt("--train-steps") ?? 5
    let decodeRuns = try arguments.positiveInt("--decode-runs") ?? 5
    let folder: URL
    if let path = arguments.string("--model") {
      folder = URL(fileURLWithPath: path)
    } else {
      folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-t5")
      var config = T5Configuration()
      (config.dModel, config.dKv, config.dFf, config.numHeads, config.numLayers, config.numDecoderLayers) = (256, 64, 1024, 4, 6, 6)
      var generator = SeededRandom(seed: 0)
      try ModelExport.save(T5Model(config, using: &generator), to: folder)
    }
    let model = try ModelLoading.load(from: folder)
    print("model: \(model.modelType) \(model.encoder.depth)+\(model.decoder.depth) layers, d_model \(model.modelWidth), \(model.parameterCount.formatted()) parameters; BLAS: \(BLAS.backendName); kernels: \(KernelChoice.name); threads \(ThreadCount.current)")

    let tokensPerSecond = try measureTraining(model, steps: trainSteps)
    let latency = try measureDecoding(model, runs: decodeRuns)
    var rows = [("training tokens/s (16×64 + 16×64)", String(format: "%.0f", tokensPerSecond)),
                ("greedy latency, 32 tokens (ms)", String(format: "%.1f", latency * 1000))]
    if arguments.has("--torch") {
      let torch = try runTorch(folder: folder, threads: ThreadCount.current)
      let training = torch["training"] as? [String: Any], decoding = torch["greedy_decoding"] as? [String: Any]
      if let t = training?["source_plus_target_tokens_per_second"] as? Double, let d = decoding?["median_seconds"] as? Double {
        rows = [("training tokens/s (16×64 + 16×64)", String(format: "%.0f  PyTorch %.0f  ratio %.2f×", tokensPerSecond, t, tokensPerSecond / t)),
                ("greedy latency, 32 tokens (ms)", String(format: "%.1f  PyTorch %.1f  speedup %.2f×", latency * 1000, d * 1000, d / latency))]
      }
    }
    for (name, value) in rows { print(name.padding(toLength: 36, withPad: " ", startingAt: 0) + value) }
  }

  /// Median tokens per second of forward + backward + AdamW steps.
  static func measureTraining(_ model: any Seq2SeqModel, steps: Int) throws -> Double {
    let (batchSize, length) = (16, 64)
    var generator = SeededRandom(seed: 1)
    let ids = (0..<(batchSize * length)).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) }
    let labels = (0..<(batchSize * length)).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) }
    let decoderIDs = (0..<batchSize).flatMap { row in [model.specialTokens.decoderStart] + labels[(row * length)..<(row * length + length - 1)] }
    let batch = Seq2SeqBatch(
      batchSize: batchSize, sourceLength: length, sourceIDs: ids, sourceKeep: [Float](repeating: 1, count: ids.count),
      targetLength: length, decoderInputIDs: decoderIDs, labels: labels)
    let optimizer = AdamW(model, configuration: AdamWConfiguration(learningRate: 1e-4))
    var times: [Double] = []
    for step in 0...steps {
      let start = DispatchTime.now().uptimeNanoseconds
      optimizer.zeroGrad()
      let dropout = Dropout(rate: model.dropoutRate, generator: SeededRandom(seed: 2).split(UInt64(step)))
      model.loss(logits: model.forward(batch, dropout: dropout.closure), batch: batch).backward()
      optimizer.update()
      if step > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
    }
    return Double(2 * batchSize * length) / median(times)
  }

  /// Median seconds to generate exactly 32 tokens at batch 1.
  static func measureDecoding(_ model: any Seq2SeqModel, runs: Int) throws -> Double {
    var generator = SeededRandom(seed: 3)
    let source = (0..<63).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) } + [model.specialTokens.eos]
    let options = GenerationOptions(maxNewTokens: 32, minNewTokens: 32)
    var times: [Double] = []
    for run in 0...runs {
      let start = DispatchTime.now().uptimeNanoseconds
      let output = try generate(model, sources: [source], options: options)
      precondition(output[0].count == 33, "expected 32 new tokens")
      if run > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
    }
    return median(times)
  }

  static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

  /// Runs the PyTorch reference script on `folder` and returns its JSON.
  static func runTorch(folder: URL, threads: Int) throws -> [String: Any] {
    let script = URL(fileURLWithPath: "Tests/Reference/bench_torch.py")
    guard FileManager.default.fileExists(atPath: script.path) else {
      throw UsageError("--torch needs \(script.path): run from the repository root")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, "--model", folder.path, "--threads", String(threads)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw TrainingError("the PyTorch benchmark failed (exit \(process.terminationStatus)); is torch installed?")
    }
    return json
  }
}
