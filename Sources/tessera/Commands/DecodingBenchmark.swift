import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// The weight types `bench model` decodes with.
enum DecodingScheme: String, CaseIterable {
  case fp32, bf16, int8

  static func parse(_ names: [String]) throws -> [DecodingScheme] {
    try names.map { name in
      guard let scheme = DecodingScheme(rawValue: name) else {
        throw UsageError("--schemes takes \(allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
      }
      return scheme
    }
  }

  var quantization: QuantizationScheme? { QuantizationScheme(rawValue: rawValue) }
}

/// Greedy decoding of one model folder in fp32, bf16 and int8: latency at
/// batch 1, batched throughput, and how close each comes to the memory bound,
/// beside PyTorch and CTranslate2 on the same weights when asked.
struct DecodingBenchmark {
  let folder: URL
  let runs: Int
  let batchRows: Int
  let schemes: [DecodingScheme]
  static let newTokens = 32
  static let sourceLength = 64

  func run(torch: Bool, ct2: Bool) throws {
    let bandwidth = MemoryBandwidth.measure()
    print(String(format: "memory read bandwidth: %.1f GB/s (%d threads, a 256 MB sum)", bandwidth / 1e9, ThreadCount.current))
    print("greedy decoding: a \(Self.sourceLength)-token source, exactly \(Self.newTokens) new tokens, encoder included")
    let header = ["weights", "batch 1 (ms)", "ms/token", "batch \(batchRows) tok/s", "4 beams (ms)", "MB/token", "bound (ms)", "× bound"]
    var table: [[String]] = []
    var latencies: [DecodingScheme: Double] = [:], throughputs: [DecodingScheme: Double] = [:]
    for scheme in schemes {
      let model = try ModelLoading.load(from: folder)
      if let quantization = scheme.quantization { try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: quantization)) }
      let latency = try Self.measureLatency(model, runs: runs)
      let throughput = try Self.measureThroughput(model, rows: batchRows, runs: Swift.max(1, runs / 2))
      let beams = try Self.measureLatency(model, runs: Swift.max(1, runs / 2), beams: 4)
      let bytes = Double(DecodingFootprint.weightBytesPerToken(of: model))
      let bound = bytes * Double(Self.newTokens) / bandwidth
      latencies[scheme] = latency
      throughputs[scheme] = throughput
      table.append([
        scheme.rawValue, String(format: "%.1f", latency * 1000), String(format: "%.2f", latency * 1000 / Double(Self.newTokens)),
        String(format: "%.0f", throughput), String(format: "%.1f", beams * 1000), String(format: "%.1f", bytes / 1e6), String(format: "%.1f", bound * 1000),
        String(format: "%.2f", latency / bound),
      ])
    }
    printTable(header, table)
    if let fp32 = latencies[.fp32] {
      for scheme in [DecodingScheme.bf16, .int8] { if let other = latencies[scheme] { print(String(format: "%@ speedup over fp32: %.2f×", scheme.rawValue, fp32 / other)) } }
    }
    if torch {
      let result = try runReferenceScript(
        "bench_torch.py", arguments: ["--model", folder.path, "--threads", String(ThreadCount.current), "--skip-train",
                                      "--decode-runs", String(runs), "--new-tokens", String(Self.newTokens)])
      if let seconds = (result["greedy_decoding"] as? [String: Any])?["median_seconds"] as? Double {
        var line = String(format: "transformers (PyTorch %@) batch 1: %.1f ms", result["torch"] as? String ?? "?", seconds * 1000)
        if let fp32 = latencies[.fp32] { line += String(format: "; Tessera fp32 is %.2f× faster", seconds / fp32) }
        print(line)
      }
    }
    if ct2 {
      let result = try runReferenceScript(
        "bench_ct2.py", arguments: ["--model", folder.path, "--threads", String(ThreadCount.current), "--decode-runs", String(runs),
                                    "--batch", String(batchRows), "--new-tokens", String(Self.newTokens)],
        needs: "ctranslate2, torch and transformers (pip install ctranslate2)")
      for (kind, ours) in [("float32", DecodingScheme.fp32), ("int8", DecodingScheme.int8)] {
        guard let entry = result[kind] as? [String: Any], let seconds = entry["median_seconds"] as? Double,
          let rate = entry["batch_tokens_per_second"] as? Double
        else { continue }
        var line = String(format: "CTranslate2 %@ (%@): batch 1 %.1f ms, batch %d %.0f tok/s", kind, result["ctranslate2"] as? String ?? "?", seconds * 1000, batchRows, rate)
        if let latency = latencies[ours], let throughput = throughputs[ours] {
          line += String(format: "; Tessera %@ latency %.2f× theirs, throughput %.2f× theirs", ours.rawValue, latency / seconds, throughput / rate)
        }
        print(line)
      }
    }
  }

  /// Random source ids (from 3 up) ending with end of sequence.
  static func source(for model: any Seq2SeqModel, using generator: inout SeededRandom) -> [Int] {
    (0..<(sourceLength - 1)).map { _ in 3 + generator.nextInt(below: model.vocabularySize - 3) } + [model.specialTokens.eos]
  }

  /// Median seconds to generate exactly 32 tokens at batch 1 (greedy, or beam search with `beams`).
  static func measureLatency(_ model: any Seq2SeqModel, runs: Int, beams: Int = 1) throws -> Double {
    var generator = SeededRandom(seed: 3)
    let sources = [source(for: model, using: &generator)]
    return try medianSeconds(runs: runs) { _ in try generateExactly(model, sources, beams: beams) }
  }

  /// Generated tokens per second over `rows` sources decoded together.
  static func measureThroughput(_ model: any Seq2SeqModel, rows: Int, runs: Int) throws -> Double {
    var generator = SeededRandom(seed: 4)
    let sources = (0..<rows).map { _ in source(for: model, using: &generator) }
    let seconds = try medianSeconds(runs: runs) { _ in try generateExactly(model, sources) }
    return Double(rows * newTokens) / seconds
  }

  private static func generateExactly(_ model: any Seq2SeqModel, _ sources: [[Int]], beams: Int = 1) throws {
    let options = GenerationOptions(maxNewTokens: newTokens, minNewTokens: newTokens, numBeams: beams)
    let output = try generate(model, sources: sources, options: options)
    precondition(output.allSatisfy { $0.count == newTokens + 1 }, "expected \(newTokens) new tokens")
  }
}

/// Prints rows under a header, each column as wide as its widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
  let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
  for row in [header] + rows {
    print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
  }
}
