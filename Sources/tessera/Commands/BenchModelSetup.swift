import Foundation
import Seq2SeqModels
import TensorCore

/// The model shapes `bench model` and `bench modules` build with seeded random
/// weights, so a benchmark needs no download.
enum BenchShape: String, CaseIterable {
  /// A 6+6 T5 of width 256 (d_ff 1024, 4 heads, vocabulary 32128): quick.
  case small
  /// t5-small: 6+6, d_model 512, d_ff 2048, 8 heads, relu, vocabulary 32128 (60M parameters).
  case t5Small = "t5-small"
  /// bart-base: 6+6, d_model 768, ffn 3072, 12 heads, gelu, vocabulary 50265 (140M parameters).
  case bartBase = "bart-base"

  static let names = allCases.map(\.rawValue).joined(separator: "|")

  /// `--shape` and `--model`: which model (or teacher) the benchmark runs on.
  static func options(subject: String) -> [Option] {
    [
      .value("--shape", names, "\(subject) to build with random weights (default: small)"),
      .value("--model", "DIR", "Use this model folder as the \(subject.lowercased()) instead of a --shape"),
    ]
  }

  /// `--threads` and `--torch`, last in both benchmarks' options.
  static func runOptions(torch: String) -> [Option] {
    [
      .value("--threads", "N", "Threads for kernels and BLAS (default: all cores)"),
      .flag("--torch", torch),
    ]
  }

  func makeModel() -> any Seq2SeqModel {
    var generator = SeededRandom(seed: 0)
    switch self {
    case .small, .t5Small:
      var config = T5Configuration()
      let wide = self == .t5Small
      (config.dModel, config.dKv, config.dFf, config.numHeads) = wide ? (512, 64, 2048, 8) : (256, 64, 1024, 4)
      (config.numLayers, config.numDecoderLayers) = (6, 6)
      return T5Model(config, using: &generator)
    case .bartBase:
      var config = BartConfiguration()
      (config.dModel, config.encoderLayers, config.decoderLayers) = (768, 6, 6)
      (config.encoderFfnDim, config.decoderFfnDim, config.encoderAttentionHeads, config.decoderAttentionHeads) = (3072, 3072, 12, 12)
      return BartModel(config, using: &generator)
    }
  }

  /// The model folder a benchmark runs on: `--model DIR`, or the `--shape`
  /// preset written once into the temporary folder (both sides of a `--torch`
  /// run load the same weights from it).
  static func folder(_ arguments: ParsedArguments) throws -> URL {
    if let path = arguments.string("--model") {
      guard arguments.string("--shape") == nil else { throw UsageError("give --model or --shape, not both") }
      return URL(fileURLWithPath: path)
    }
    let name = arguments.string("--shape") ?? BenchShape.small.rawValue
    guard let shape = BenchShape(rawValue: name) else { throw UsageError("--shape expects \(names), got '\(name)'") }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(shape.rawValue)")
    try ModelExport.save(shape.makeModel(), to: folder)
    return folder
  }
}

/// The training benchmarks' batch: 16 rows of 64 random source and 64 random
/// target tokens (ids from 3 up, no padding), teacher-forced.
func benchTrainingBatch(for model: any Seq2SeqModel) throws -> Seq2SeqBatch {
  let (batchSize, length) = (16, 64)
  var generator = SeededRandom(seed: 1)
  let ids = (0..<(batchSize * length)).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) }
  let labels = (0..<(batchSize * length)).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) }
  let decoderIDs = (0..<batchSize).flatMap { row in
    [model.specialTokens.decoderStart] + labels[(row * length)..<(row * length + length - 1)]
  }
  let batch = Seq2SeqBatch(
    batchSize: batchSize, sourceLength: length, sourceIDs: ids, sourceKeep: [Float](repeating: 1, count: ids.count),
    targetLength: length, decoderInputIDs: decoderIDs, labels: labels)
  do { try model.validate(batch) } catch { throw UsageError("the benchmark's 16 × 64-token batch does not fit this model: \(error)") }
  return batch
}

/// Median seconds of `runs` timed calls of `body` (its argument: the call's
/// index), after one untimed warm-up call (index 0).
func medianSeconds(runs: Int, _ body: (Int) throws -> Void) rethrows -> Double {
  var times: [Double] = []
  for run in 0...runs {
    let start = DispatchTime.now().uptimeNanoseconds
    try body(run)
    if run > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
  }
  return times.sorted()[times.count / 2]
}

/// Where the memory of a training step goes: tensor bytes by owner, what the
/// buffer pool keeps idle, and what the process holds besides tensors.
struct TrainingMemory {
  /// Bytes of the model's parameters (frozen and trainable).
  var parameters: Int
  /// Bytes of the trainable parameters' gradients (as many as the trainable parameters).
  var gradients: Int
  /// Bytes of AdamW's two moments.
  var optimizerState: Int
  /// The most bytes live tensors held during the timed steps.
  var peakLive: Int
  /// The most bytes tensor buffers held during the timed steps, live or pooled.
  var peakHeld: Int
  /// The process's peak resident set after the timed steps.
  var peakResident: Int

  /// Measures from now on: call ``finish(...)`` after the steps.
  static func start() { StorageStatistics.resetPeaks() }

  static func finish(parameters: Int, trainable: Int) -> TrainingMemory {
    TrainingMemory(
      parameters: parameters * 4, gradients: trainable * 4, optimizerState: 2 * trainable * 4,
      peakLive: StorageStatistics.peakLiveBytes, peakHeld: StorageStatistics.peakHeldBytes,
      peakResident: ProcessMemory.peakResidentBytes)
  }

  /// The report's rows: (what, megabytes, note).
  var rows: [(String, String)] {
    let steady = parameters + optimizerState
    return [
      ("parameters", megabytes(parameters)),
      ("AdamW moments (m, v)", megabytes(optimizerState)),
      ("gradients (when complete)", megabytes(gradients)),
      ("activations, tape, gradients at peak", megabytes(peakLive - steady)),
      ("= peak live tensors", megabytes(peakLive)),
      ("pool idle at the held peak", megabytes(peakHeld - peakLive) + " (at most; the pool keeps ≤ 1 GiB)"),
      ("= peak tensor buffers held", megabytes(peakHeld)),
      ("runtime, BLAS, code, untracked", megabytes(peakResident - peakHeld)),
      ("= peak RSS", megabytes(peakResident)),
    ]
  }

  func print(torchResident: Int?) {
    Swift.print("memory of the training step (MB):")
    for (name, value) in rows { Swift.print("  " + name.padding(toLength: 38, withPad: " ", startingAt: 0) + value) }
    if let torchResident {
      Swift.print("  " + "PyTorch peak RSS".padding(toLength: 38, withPad: " ", startingAt: 0)
        + megabytes(torchResident) + String(format: " (Tessera/PyTorch %.2f)", Double(peakResident) / Double(torchResident)))
    }
  }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.0f", Double(bytes) / 1e6) }

/// Runs a reference script of `Tests/Reference` with python3 and returns the
/// JSON object it prints.
func runReferenceScript(_ name: String, arguments: [String], needs: String = "torch and transformers") throws -> [String: Any] {
  let script = URL(fileURLWithPath: "Tests/Reference/\(name)")
  guard FileManager.default.fileExists(atPath: script.path) else {
    throw UsageError("the reference \(name) is not at \(script.path): run from the repository root")
  }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", script.path] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
    throw UsageError("the reference \(name) failed (exit \(process.terminationStatus)); is python3 with \(needs) installed?")
  }
  return json
}
