import Foundation
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// `tessera bench modules`: the speed and memory of one module-training step,
/// optionally beside a PyTorch implementation of the same step.
enum ModulesBenchmark {
  static let command = Command(
    path: ["bench", "modules"],
    summary: "One module-training step: tokens/s and peak memory (beside PyTorch with --torch)",
    discussion: """
      The step `modules train` takes after its local stage with sampling `every`
      and every span replaced: the frozen teacher's pass without gradients
      (logits, hidden states, attention at the spans' last layers), then for each
      granularity the hybrid whose modules cover both stacks, forward and
      backward (cross-entropy + T²·KL + hidden-state and attention errors), then
      AdamW on the modules. The batch is 16 × 64 source and 16 × 64 target tokens;
      the modules start as copies of their span's first teacher layer.

      --torch runs Tests/Reference/bench_modules_torch.py: the same step written
      with transformers' T5 and BART layers, on the same teacher, modules and
      batch. Both print the first step's loss, which must agree.

      EXAMPLE:
        swift build -c release && .build/release/tessera bench modules --shape t5-small --threads 2 --torch
      """,
    options: BenchShape.options(subject: "Teacher") + [
      .value("--granularities", "LIST", "Module granularities", default: "2,3,4,6"),
      .value("--steps", "N", "Timed steps after one warm-up", default: "3"),
    ] + BenchShape.runOptions(torch: "Also run the PyTorch reference on the same teacher, modules and batch")
  ) { arguments in
    if let threads = try arguments.positiveInt("--threads") { ThreadCount.set(threads) }
    let steps = try arguments.positiveInt("--steps") ?? 3
    let granularities = try (arguments.list("--granularities") ?? ["2", "3", "4", "6"]).map { word in
      guard let g = Int(word), g >= 2 else { throw UsageError("--granularities expects integers of at least 2, got '\(word)'") }
      return g
    }
    var settings = ModuleTrainingSettings()
    (settings.granularities, settings.sampling, settings.initialisation) = (granularities, .every, .first)
    (settings.steps, settings.localFraction, settings.replaceStart) = (steps + 1, 0, 1)
    if let problem = settings.validationProblem() { throw UsageError("--granularities: \(problem.message)") }
    let folder = try BenchShape.folder(arguments)
    let teacher = try ModelLoading.load(from: folder)
    if let problem = settings.granularityProblem(encoderLayers: teacher.encoder.depth, decoderLayers: teacher.decoder.depth) {
      throw UsageError("--granularities: \(problem.message)")
    }
    let objective = ModuleDistillationObjective(teacher: teacher, settings: settings)
    let modules = objective.modules
    print("teacher: \(teacher.modelType) \(teacher.encoder.depth)+\(teacher.decoder.depth) layers, d_model \(teacher.modelWidth), \(teacher.parameterCount.formatted()) parameters; \(modules.spans.count) modules, \(modules.parameterCount.formatted()) parameters; BLAS: \(BLAS.backendName); threads \(ThreadCount.current)")

    let batch = try benchTrainingBatch(for: teacher)
    // The reference starts from the modules as they are before the first step.
    let inputs = arguments.has("--torch") ? try writeInputs(modules: modules, batch: batch) : nil
    let optimizer = AdamW(modules, configuration: AdamWConfiguration(learningRate: 1e-4))
    TrainingMemory.start()
    var firstLoss: Float = 0
    let seconds = medianSeconds(runs: steps) { step in
      optimizer.zeroGrad()
      let loss = objective.loss(step: step + 1, batch: batch)
      if step == 0 { firstLoss = loss.total.item() }
      loss.backward()
      optimizer.update()
    }
    let memory = TrainingMemory.finish(
      parameters: teacher.parameterCount + modules.parameterCount, trainable: modules.parameterCount)
    let tokens = Double(batch.sourceIDs.count + batch.labels.count)
    var rows = [
      ("step seconds", String(format: "%.2f", seconds)), ("tokens/s (16×64 + 16×64)", String(format: "%.0f", tokens / seconds)),
      ("first step's loss", String(format: "%.5f", firstLoss)),
    ]
    var torchResident: Int?
    if let inputs {
      let torch = try runReferenceScript(
        "bench_modules_torch.py",
        arguments: ["--teacher", folder.path, "--inputs", inputs.path, "--granularities", granularities.map(String.init).joined(separator: ","),
                    "--steps", String(steps), "--threads", String(ThreadCount.current)])
      if let torchSeconds = torch["median_step_seconds"] as? Double, let torchLoss = torch["first_loss"] as? Double {
        rows = [
          ("step seconds", String(format: "%.2f  PyTorch %.2f  speedup %.2f×", seconds, torchSeconds, torchSeconds / seconds)),
          ("tokens/s (16×64 + 16×64)", String(format: "%.0f  PyTorch %.0f", tokens / seconds, tokens / torchSeconds)),
          ("first step's loss", String(format: "%.5f  PyTorch %.5f  relative difference %.1e", firstLoss, torchLoss, abs(Double(firstLoss) - torchLoss) / abs(torchLoss))),
        ]
      }
      torchResident = torch["peak_rss_bytes"] as? Int
    }
    for (name, value) in rows { print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + value) }
    memory.print(torchResident: torchResident)
  }

  /// Writes the starting modules and the batch where the reference script reads them.
  private static func writeInputs(modules: ModuleSet, batch: Seq2SeqBatch) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-modules")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try SafeTensorsFile(tensors: modules.stateDictionary()).write(to: folder.appendingPathComponent("modules.safetensors"))
    let rows = { (ids: [Int], width: Int) in stride(from: 0, to: ids.count, by: width).map { Array(ids[$0..<($0 + width)]) } }
    let json: [String: Any] = [
      "source_ids": rows(batch.sourceIDs, batch.sourceLength), "decoder_input_ids": rows(batch.decoderInputIDs, batch.targetLength),
      "labels": rows(batch.labels, batch.targetLength),
    ]
    try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("batch.json"), options: .atomic)
    return folder
  }
}
