import Foundation
import TensorCore

/// `tessera bench …`: speed figures of the tensor core. Run them from a release
/// build (`swift build -c release`) on an otherwise idle machine.
enum BenchCommands {
  static let gemm = Command(
    path: ["bench", "gemm"],
    summary: "GEMM GFLOP/s: raw BLAS, Tensor matmul, pure-Swift fallback",
    discussion: """
      For each shape and thread count, times cblas_sgemm called directly through
      the dlsym pointer, Tensor.matmul without gradients and under the tape
      (forward only, inputs with requiresGrad), and the pure-Swift fallback.
      Each figure is the best (or median) of --repeats samples after a warm-up;
      percentages are relative to raw cblas_sgemm. The backend follows
      TESSERA_BLAS (auto|openblas|none).

      Example: tessera bench gemm --threads 1 --shapes 512x512x512 --repeats 9
      """,
    options: [
      .value("--shapes", "LIST", "M×K×N shapes, comma-separated", default: GEMMBenchmark.defaultShapes),
      .value("--threads", "LIST", "thread counts to compare", default: "1,2"),
      .value("--repeats", "N", "timed samples per figure", default: "9"),
      .value("--statistic", "best|median", "which sample the table shows", default: "best"),
      .flag("--skip-fallback", "do not time the pure-Swift fallback"),
      .value("--json", "FILE", "also write every figure (best and median) as JSON"),
    ]
  ) { arguments in
    try GEMMBenchmark(arguments).run()
  }

  static let ops = Command(
    path: ["bench", "ops"],
    summary: "Elementwise and normalisation kernels in GB/s against memcpy",
    discussion: """
      Times add, GELU (erf and tanh forms), softmax and layer norm over the last
      axis of a [elements / width, width] tensor, without gradients. Bandwidth
      counts the bytes an op must read and write (add: 3 × 4 bytes per element,
      the others 2 × 4), against memcpy of a tensor into an existing buffer
      (split across the same threads). Outputs are fresh tensors, as in real use.
      Kernels run in their AVX-512 build when the CPU has it; TESSERA_SIMD=baseline
      times the baseline build instead.

      Example: tessera bench ops --elements 4194304 --threads 2
      """,
    options: [
      .value("--elements", "N", "elements per tensor", default: "16777216"),
      .value("--width", "N", "length of the last axis", default: "1024"),
      .value("--threads", "LIST", "thread counts to compare", default: "1,2"),
      .value("--repeats", "N", "timed samples per figure", default: "9"),
      .value("--statistic", "best|median", "which sample the table shows", default: "best"),
      .value("--json", "FILE", "also write every figure (best and median) as JSON"),
    ]
  ) { arguments in
    try OpsBenchmark(arguments).run()
  }
}

/// Options shared by both benchmarks.
private struct BenchSettings {
  let threads: [Int]
  let repeats: Int
  let showMedian: Bool
  let jsonPath: String?

  init(_ arguments: ParsedArguments) throws {
    try BLAS.checkConfiguration()
    threads = try (arguments.list("--threads") ?? ["1"]).map { word in
      guard let value = Int(word), value > 0 else {
        throw UsageError("--threads expects positive integers, got '\(word)'")
      }
      return value
    }
    guard !threads.isEmpty else { throw UsageError("--threads needs at least one thread count") }
    repeats = try arguments.int("--repeats") ?? 9
    guard repeats > 0 else { throw UsageError("--repeats must be at least 1, got \(repeats)") }
    switch arguments.string("--statistic") ?? "best" {
    case "best": showMedian = false
    case "median": showMedian = true
    case let other: throw UsageError("--statistic expects best or median, got '\(other)'")
    }
    jsonPath = arguments.string("--json")
  }

  /// Times `body` (one call per invocation): a warm-up, then `repeats` samples,
  /// each at least 2 ms (several calls if needed): short samples let best-of skip
  /// the moments another process had the core.
  func measure(_ body: () -> Void) -> Timing {
    let first = Timing.seconds(body)
    let calls = Swift.max(1, Int((0.002 / Swift.max(first, 1e-9)).rounded(.up)))
    var samples: [Double] = []
    for _ in 0..<repeats {
      samples.append(Timing.seconds { for _ in 0..<calls { body() } } / Double(calls))
    }
    samples.sort()
    return Timing(best: samples[0], median: samples[samples.count / 2])
  }

  func shown(_ timing: Timing) -> Double { showMedian ? timing.median : timing.best }

  /// Writes `records` as a JSON array of objects (atomically).
  func writeJSON(_ records: [[String: Any]]) throws {
    guard let jsonPath else { return }
    let data = try JSONSerialization.data(withJSONObject: records, options: [.prettyPrinted, .sortedKeys])
    do {
      try data.write(to: URL(fileURLWithPath: jsonPath), options: .atomic)
    } catch {
      throw BenchError("cannot write --json file '\(jsonPath)': \(error.localizedDescription)")
    }
    print("wrote \(jsonPath)")
  }

  func header(_ title: String) {
    let env = ProcessInfo.processInfo.environment
    print(
      "\(title) — backend: \(BLAS.backendName) (TESSERA_BLAS=\(env["TESSERA_BLAS"] ?? "auto")); "
        + "kernels: \(KernelChoice.name) (TESSERA_SIMD=\(env["TESSERA_SIMD"] ?? "auto"))")
    print("\(showMedian ? "median" : "best") of \(repeats) samples after a warm-up; cores online: \(ProcessInfo.processInfo.activeProcessorCount)")
  }
}

/// Seconds per call, best and median of the samples.
private struct Timing {
  let best: Double
  let median: Double

  static func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
  }
}

private struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Deterministic operands in [-1, 1) (an LCG: the figures must not depend on data).
private func benchValues(_ count: Int, seed: UInt64) -> [Float] {
  var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
  return (0..<count).map { _ in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(state >> 40) / Float(1 << 23) - 1
  }
}

/// Pads `text` on the left to `width` characters (right-aligned columns).
private func column(_ text: String, _ width: Int) -> String {
  String(repeating: " ", count: Swift.max(0, width - text.count)) + text
}

private func formatted(_ value: Double, decimals: Int = 1) -> String {
  String(format: "%.\(decimals)f", value)
}

// MARK: - GEMM

private struct GEMMBenchmark {
  static let defaultShapes = "512x512x512,1024x1024x1024,2048x256x1024,64x256x256"

  struct Shape {
    let m: Int, k: Int, n: Int
    var label: String { "\(m)·\(k)·\(n)" }
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
  }

  let settings: BenchSettings
  let shapes: [Shape]
  let includeFallback: Bool

  init(_ arguments: ParsedArguments) throws {
    settings = try BenchSettings(arguments)
    includeFallback = !arguments.has("--skip-fallback")
    shapes = try (arguments.list("--shapes") ?? []).map { word in
      let parts = word.lowercased().split(separator: "x").compactMap { Int($0) }
      guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else {
        throw UsageError("--shapes expects MxKxN with positive sizes (e.g. 512x512x512), got '\(word)'")
      }
      return Shape(m: parts[0], k: parts[1], n: parts[2])
    }
    guard !shapes.isEmpty else { throw UsageError("--shapes needs at least one MxKxN shape") }
  }

  func run() throws {
    settings.header("GEMM GFLOP/s (M·K·N, C = A·B, row-major, no transposes)")
    let library = BLAS.library
    let names = ["cblas_sgemm", "Tensor.matmul", "matmul+tape"] + (includeFallback ? ["fallback"] : [])
    print(
      column("M·K·N", 16) + column("threads", 9)
        + names.map { column($0, $0 == "cblas_sgemm" ? 13 : 18) }.joined())
    var records: [[String: Any]] = []
    for shape in shapes {
      let a = Tensor(benchValues(shape.m * shape.k, seed: 1), shape: [shape.m, shape.k])
      let b = Tensor(benchValues(shape.k * shape.n, seed: 2), shape: [shape.k, shape.n])
      var tapedA = a, tapedB = b
      tapedA.requiresGrad = true
      tapedB.requiresGrad = true
      var c = [Float](repeating: 0, count: shape.m * shape.n)
      for threads in settings.threads {
        ThreadCount.set(threads)
        var timings: [String: Timing] = [:]
        a.withValues { pa in
          b.withValues { pb in
            c.withUnsafeMutableBufferPointer { pc in
              let (m, n, k) = (shape.m, shape.n, shape.k)
              if let library {
                timings["cblas_sgemm"] = settings.measure {
                  library.sgemm(
                    BLASLibrary.rowMajor, BLASLibrary.noTranspose, BLASLibrary.noTranspose,
                    Int32(m), Int32(n), Int32(k), 1, pa.baseAddress, Int32(k), pb.baseAddress,
                    Int32(n), 0, pc.baseAddress, Int32(n))
                }
              }
              if includeFallback {
                timings["fallback"] = settings.measure {
                  BLAS.fallbackSgemm(
                    transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1,
                    a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, beta: 0,
                    c: pc.baseAddress!, ldc: n, threads: threads)
                }
              }
            }
          }
        }
        timings["Tensor.matmul"] = settings.measure { _ = withoutGradient { a.matmul(b) } }
        timings["matmul+tape"] = settings.measure { _ = tapedA.matmul(tapedB) }
        let baseline = timings["cblas_sgemm"].map { shape.flops / settings.shown($0) }
        var line = column(shape.label, 16) + column("\(threads)", 9)
        for name in names {
          let width = name == "cblas_sgemm" ? 13 : 18
          guard let timing = timings[name] else {
            line += column("—", width)
            continue
          }
          let gflops = shape.flops / settings.shown(timing) / 1e9
          var cell = formatted(gflops)
          if let baseline, name != "cblas_sgemm" {
            cell += " (" + formatted(100 * gflops * 1e9 / baseline, decimals: 0) + "%)"
          }
          line += column(cell, width)
          records.append([
            "shape": ["m": shape.m, "k": shape.k, "n": shape.n], "threads": threads, "variant": name,
            "backend": BLAS.backendName,
            "gflops_best": shape.flops / timing.best / 1e9, "gflops_median": shape.flops / timing.median / 1e9,
          ])
        }
        print(line)
      }
    }
    try settings.writeJSON(records)
  }
}

// MARK: - Elementwise and normalisation

private struct OpsBenchmark {
  let settings: BenchSettings
  let rows: Int, width: Int

  init(_ arguments: ParsedArguments) throws {
    settings = try BenchSettings(arguments)
    let elements = try arguments.int("--elements") ?? 1 << 24
    width = try arguments.int("--width") ?? 1024
    guard width > 0, elements >= width, elements % width == 0 else {
      throw UsageError("--elements (\(elements)) must be a positive multiple of --width (\(width))")
    }
    rows = elements / width
  }

  /// One timed operation: its name, bytes moved per call and the call itself.
  struct Case {
    let name: String
    let bytes: Double
    let body: () -> Void
  }

  func run() throws {
    let count = rows * width
    settings.header("Kernel bandwidth, [\(rows), \(width)] float tensors (\(count) elements)")
    let x = Tensor(benchValues(count, seed: 3).map { $0 * 3 }, shape: [rows, width])
    let y = Tensor(benchValues(count, seed: 4), shape: [rows, width])
    let weight = Tensor(benchValues(width, seed: 5), shape: [width])
    let bias = Tensor(benchValues(width, seed: 6), shape: [width])
    var copyTarget = Tensor.zeros([rows, width])
    let tensorBytes = Double(count * MemoryLayout<Float>.stride)
    let cases = [
      Case(name: "add", bytes: 3 * tensorBytes) { _ = x + y },
      Case(name: "gelu (erf)", bytes: 2 * tensorBytes) { _ = x.gelu() },
      Case(name: "gelu (tanh)", bytes: 2 * tensorBytes) { _ = x.gelu(approximation: .tanh) },
      Case(name: "softmax", bytes: 2 * tensorBytes) { _ = x.softmax() },
      Case(name: "layer norm", bytes: 2 * tensorBytes) { _ = x.layerNorm(weight: weight, bias: bias) },
    ]
    print(column("op", 14) + column("threads", 9) + column("GB/s", 9) + column("of memcpy", 11))
    var records: [[String: Any]] = []
    for threads in settings.threads {
      ThreadCount.set(threads)
      let copy = settings.measure {
        x.withValues { source in
          copyTarget.withMutableValues { target in
            parallelChunks(count, grain: 1 << 16) { range in
              (target.baseAddress! + range.lowerBound).update(
                from: source.baseAddress! + range.lowerBound, count: range.count)
            }
          }
        }
      }
      let copyRate = 2 * tensorBytes / settings.shown(copy) / 1e9
      print(column("memcpy", 14) + column("\(threads)", 9) + column(formatted(copyRate), 9) + column("100%", 11))
      records.append(record("memcpy", threads: threads, bytes: 2 * tensorBytes, copy))
      // Ops write fresh tensors: this row shows what a new buffer alone costs
      // (large allocations come straight from the kernel, one fault per page).
      let freshCopy = Case(name: "memcpy to new", bytes: 2 * tensorBytes) {
        let target = TensorStorage(uninitializedCount: count)
        x.withValues { source in
          parallelChunks(count, grain: 1 << 16) { range in
            (target.pointer + range.lowerBound).update(
              from: source.baseAddress! + range.lowerBound, count: range.count)
          }
        }
      }
      for item in [freshCopy] + cases {
        let timing = withoutGradient { settings.measure(item.body) }
        let rate = item.bytes / settings.shown(timing) / 1e9
        print(
          column(item.name, 14) + column("\(threads)", 9) + column(formatted(rate), 9)
            + column(formatted(100 * rate / copyRate, decimals: 0) + "%", 11))
        records.append(record(item.name, threads: threads, bytes: item.bytes, timing))
      }
    }
    try settings.writeJSON(records)
  }

  private func record(_ name: String, threads: Int, bytes: Double, _ timing: Timing) -> [String: Any] {
    [
      "op": name, "threads": threads, "rows": rows, "width": width, "bytes": bytes,
      "gbps_best": bytes / timing.best / 1e9, "gbps_median": bytes / timing.median / 1e9,
    ]
  }
}
