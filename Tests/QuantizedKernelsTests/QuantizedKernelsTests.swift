import Foundation
import QuantizedKernels
import XCTest

/// SplitMix64: a small deterministic generator, so a failure reproduces.
private struct Random {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [-1, 1).
  mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
  mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}

private let align = Int(TQ_K_ALIGN)
private func padded(_ k: Int) -> Int { (k + align - 1) / align * align }

private func topLevels() -> (int8: Int32, bf16: Int32) {
  tq_set_level_limit(-1)
  return (tq_int8_level(), tq_bf16_level())
}

/// Runs `body` with the levels capped at 0, 1, ... top (every path this CPU has), then removes the cap;
/// returns the last body's value.
@discardableResult
private func forEachLevel<T>(upTo top: Int32, _ body: (Int32) -> T) -> T {
  defer { tq_set_level_limit(-1) }
  var result: T?
  for level in 0...top {
    tq_set_level_limit(level)
    result = body(level)
  }
  return result!
}

private func quantize(_ x: [Float], m: Int, k: Int, ldx: Int) -> (q: [UInt8], scale: [Float]) {
  let kp = padded(k)
  var q = [UInt8](repeating: 0, count: m * kp), scale = [Float](repeating: -1, count: m)
  tq_quantize_rows_u8(x, m, k, ldx, kp, &q, &scale)
  return (q, scale)
}

/// A zero-padded int8 weight matrix with its scales and row sums.
private struct Int8Weights {
  var w: [Int8], scale: [Float], sum: [Int32]
  init(n: Int, k: Int, random: inout Random) {
    let kp = padded(k)
    w = [Int8](repeating: 0, count: n * kp)
    scale = (0..<n).map { _ in 0.001 + 0.01 * abs(random.float()) }
    sum = [Int32](repeating: 0, count: n)
    for j in 0..<n {
      for c in 0..<k {
        let v = Int8(truncatingIfNeeded: random.next())  // the full range, -128 included
        w[j * kp + c] = v
        sum[j] += Int32(v)
      }
    }
  }
}

private let sentinel: Float = -12345.5

private func int8Gemm(_ q: [UInt8], _ xscale: [Float], m: Int, kp: Int, _ weights: Int8Weights, bias: [Float]?,
                      _ j0: Int, _ j1: Int, ldy: Int) -> [Float] {
  var y = [Float](repeating: sentinel, count: m * ldy)
  if let bias {
    tq_int8_gemm(q, xscale, m, kp, weights.w, weights.scale, weights.sum, bias, j0, j1, &y, ldy)
  } else {
    tq_int8_gemm(q, xscale, m, kp, weights.w, weights.scale, weights.sum, nil, j0, j1, &y, ldy)
  }
  return y
}

/// The bf16 product of `w`'s top halves, or with `fp32` the fp32 product of `w` itself.
private func wideGemm(_ x: [Float], m: Int, k: Int, ldx: Int, _ w: [Float], fp32: Bool, bias: [Float]?, _ j0: Int, _ j1: Int,
                      ldy: Int) -> [Float] {
  var y = [Float](repeating: sentinel, count: m * ldy)
  let halves = w.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
  bias.withUnsafeBufferPointerIfPresent { b in
    if fp32 { tq_f32_gemm(x, m, k, ldx, w, b, j0, j1, &y, ldy) } else { tq_bf16_gemm(x, m, k, ldx, halves, b, j0, j1, &y, ldy) }
  }
  return y
}

extension Optional where Wrapped == [Float] {
  fileprivate func withUnsafeBufferPointerIfPresent(_ body: (UnsafePointer<Float>?) -> Void) {
    guard let array = self else { return body(nil) }
    array.withUnsafeBufferPointer { body($0.baseAddress) }
  }
}

/// Outputs outside [j0, j1) and the row padding past n keep the sentinel.
private func assertUntouched(_ y: [Float], m: Int, ldy: Int, _ j0: Int, _ j1: Int, _ context: String,
                             line: UInt = #line) {
  for i in 0..<m {
    for j in 0..<ldy where (j < j0 || j >= j1) && y[i * ldy + j] != sentinel {
      XCTFail("\(context): y[\(i), \(j)] written outside [\(j0), \(j1))", line: line)
      return
    }
  }
}

final class QuantizedKernelsLevelTests: XCTestCase {
  func testNamesMatchLevelsAndTheCapLowersThem() {
    let int8Names = ["portable", "avx2", "avx512", "avx512-vnni"], bf16Names = ["portable", "avx2", "avx512"]
    let top = topLevels()
    XCTAssert((0...3).contains(top.int8))
    XCTAssert((0...2).contains(top.bf16))
    defer { tq_set_level_limit(-1) }
    for limit in Int32(-1)...4 {
      tq_set_level_limit(limit)
      let int8 = tq_int8_level(), bf16 = tq_bf16_level()
      XCTAssertEqual(int8, limit < 0 ? top.int8 : min(limit, top.int8))
      XCTAssertEqual(bf16, limit < 0 ? top.bf16 : min(limit, top.bf16))
      XCTAssertEqual(String(cString: tq_int8_name()), int8Names[Int(int8)])
      XCTAssertEqual(String(cString: tq_bf16_name()), bf16Names[Int(bf16)])
    }
  }

  #if os(Linux) && arch(x86_64)
    /// The detected levels are the ones the kernel's CPU flags imply.
    func testDetectedLevelsMatchCPUFlags() throws {
      let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
      guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
        throw XCTSkip("no flags line in /proc/cpuinfo")
      }
      let flags = Set(line.split(separator: " ").map(String.init))
      let avx512 = flags.contains("avx512f") && flags.contains("avx512bw")
      let int8: Int32 = avx512 && flags.contains("avx512_vnni") ? 3 : avx512 ? 2 : flags.contains("avx2") ? 1 : 0
      let bf16: Int32 = flags.contains("avx512f") ? 2 : flags.contains("avx2") && flags.contains("fma") ? 1 : 0
      let top = topLevels()
      XCTAssertEqual(top.int8, int8)
      XCTAssertEqual(top.bf16, bf16)
    }
  #endif
}

final class QuantizeRowsTests: XCTestCase {
  func testHandComputedRows() {
    // Row 0: max 1, so s = 1/127 and q = x * 127: 63.5 rounds to even 64, -127, 31.75 to 32.
    // Row 1 is all zero: s = 0, q = 0. Stored bytes are q + 128.
    let x: [Float] = [0.5, -1, 0.25, 99, 99, 0, 0, 0, 99, 99]
    forEachLevel(upTo: topLevels().int8) { level in
      let (q, scale) = quantize(x, m: 2, k: 3, ldx: 5)
      let expected: [UInt8] = [128 + 64, 128 - 127, 128 + 32]
      XCTAssertEqual(Array(q[0..<3]), expected, "level \(level)")
      XCTAssertEqual(scale[0], Float(1) / 127, "level \(level)")
      XCTAssertEqual(scale[1], 0, "level \(level)")
      XCTAssert(q[3..<align].allSatisfy { $0 == 128 }, "level \(level): padding")
      XCTAssert(q[align...].allSatisfy { $0 == 128 }, "level \(level): zero row")
    }
  }

  /// What the header documents for NaN, infinities and subnormal maxima, the same at every level.
  func testNonFiniteAndSubnormalRows() {
    let tiny = Float.leastNonzeroMagnitude, huge = Float.greatestFiniteMagnitude
    let rows: [[Float]] = [
      [.nan, 1, -2],  // NaN is skipped by the max and quantizes to 0; 1 * 63.5 rounds to 64
      [.infinity, 1, -1],  // s = inf and 127 / inf = 0, so every q is 0
      [-.infinity, .nan, 3],
      [tiny, -tiny, 0],  // 127 / max overflows to inf: ±inf products clamp to ±127, 0 * inf (NaN) gives 0
      [huge, -huge, 1],
    ]
    let expected: [[UInt8]] = [[128, 192, 1], [128, 128, 128], [128, 128, 128], [255, 1, 128], [255, 1, 128]]
    let scales: [Float] = [2 / 127, .infinity, .infinity, 0, huge / 127]
    forEachLevel(upTo: topLevels().int8) { level in
      let (q, scale) = quantize(rows.flatMap { $0 }, m: rows.count, k: 3, ldx: 3)
      for (i, row) in expected.enumerated() {
        XCTAssertEqual(Array(q[i * align..<i * align + 3]), row, "level \(level) row \(i)")
        XCTAssertEqual(scale[i], scales[i], "level \(level) row \(i)")
      }
    }
  }

  func testEveryLevelMatchesPortableBitForBit() {
    var random = Random(state: 1)
    for k in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200, 512] {
      let m = 6, ldx = k + 5
      var x = (0..<m * ldx).map { _ in random.float() * 4 }
      for c in 0..<k {
        x[ldx + c] = 0  // a zero row
        // Max exactly 127, so 127 / max = 1 and the half-integers are ties for round-to-even.
        x[2 * ldx + c] = c == 0 ? 127 : Float(random.int(-127...126)) + 0.5
        x[3 * ldx + c] = random.float() * 1e-3
      }
      x[4 * ldx + k / 2] = .nan
      let reference = forEachLevel(upTo: 0) { _ in quantize(x, m: m, k: k, ldx: ldx) }
      forEachLevel(upTo: topLevels().int8) { level in
        let (q, scale) = quantize(x, m: m, k: k, ldx: ldx)
        XCTAssertEqual(q, reference.q, "level \(level) k \(k)")
        XCTAssertEqual(scale.map(\.bitPattern), reference.scale.map(\.bitPattern), "level \(level) k \(k)")
      }
    }
  }
}

private let rowCounts = [1, 2, 3, 4, 5, 9, 33], depths = [1, 63, 64, 200, 512], outputCounts = [1, 7, 16, 37]

/// The full range and, where there is room, an unaligned inner one.
private func ranges(_ n: Int) -> [(Int, Int)] { n > 4 ? [(0, n), (1, n - 2)] : [(0, n)] }

final class Int8GemmTests: XCTestCase {
  func testEveryLevelMatchesPortableBitForBitAndADoubleReference() {
    var random = Random(state: 2)
    let top = topLevels().int8
    for m in rowCounts {
      for k in depths {
        let kp = padded(k), ldx = k + 1
        var (q, xscale) = quantize((0..<m * ldx).map { _ in random.float() }, m: m, k: k, ldx: ldx)
        // Extreme bytes in the last row (the products take any u8, not only the quantizer's 1...255).
        for c in 0..<k where m > 1 { q[(m - 1) * kp + c] = random.next() % 2 == 0 ? 0 : 255 }
        for n in outputCounts {
          let weights = Int8Weights(n: n, k: k, random: &random)
          let bias = (0..<n).map { _ in random.float() }, ldy = n + 3
          for (j0, j1) in ranges(n) {
            for b in [nil, bias] {
              let context = "m \(m) k \(k) n \(n) [\(j0), \(j1)) bias \(b != nil)"
              let reference = forEachLevel(upTo: 0) { _ in
                int8Gemm(q, xscale, m: m, kp: kp, weights, bias: b, j0, j1, ldy: ldy)
              }
              assertUntouched(reference, m: m, ldy: ldy, j0, j1, context)
              for i in 0..<m {
                for j in j0..<j1 {
                  var exact = 0.0, magnitude = 0.0
                  for c in 0..<kp {
                    let term = Double(Int(q[i * kp + c]) - 128) * Double(weights.w[j * kp + c])
                    exact += term
                    magnitude += abs(term)
                  }
                  let scale = Double(xscale[i]) * Double(weights.scale[j]), bj = Double(b?[j] ?? 0)
                  let tolerance = 1e-6 * (scale * magnitude + abs(bj)) + 1e-30
                  XCTAssertEqual(Double(reference[i * ldy + j]), scale * exact + bj, accuracy: tolerance,
                                 "\(context) i \(i) j \(j)")
                }
              }
              forEachLevel(upTo: top) { level in
                let y = int8Gemm(q, xscale, m: m, kp: kp, weights, bias: b, j0, j1, ldy: ldy)
                if y.map(\.bitPattern) != reference.map(\.bitPattern) {
                  XCTFail("level \(level) differs from portable: \(context)")
                }
              }
            }
          }
        }
      }
    }
  }

  func testEmptyRangesWriteNothing() {
    var random = Random(state: 3)
    let weights = Int8Weights(n: 5, k: 64, random: &random)
    let (q, xscale) = quantize((0..<128).map { _ in random.float() }, m: 2, k: 64, ldx: 64)
    forEachLevel(upTo: topLevels().int8) { level in
      let y = int8Gemm(q, xscale, m: 2, kp: 64, weights, bias: nil, 3, 3, ldy: 5)
      XCTAssert(y.allSatisfy { $0 == sentinel }, "level \(level)")
    }
  }
}

final class BF16GemmTests: XCTestCase {
  func testEveryLevelMatchesADoubleReference() { check(fp32: false) }

  /// The fp32 GEMV of decoding steps shares the bf16 kernels' blocking.
  func testFP32WeightsEveryLevelMatchesADoubleReference() { check(fp32: true) }

  private func check(fp32: Bool) {
    var random = Random(state: 4)
    let top = topLevels().bf16
    for m in rowCounts {
      for k in depths + [15, 17, 33] {
        let ldx = k + 2
        let x = (0..<m * ldx).map { _ in random.float() }
        for n in outputCounts {
          // bf16 reads each weight's top half: the reference uses exactly that value.
          let w = (0..<n * k).map { _ in random.float() }
          let weight = { (index: Int) in fp32 ? Double(w[index]) : Double(Float(bitPattern: (w[index].bitPattern >> 16) << 16)) }
          let bias = (0..<n).map { _ in random.float() }, ldy = n + 2
          for (j0, j1) in ranges(n) {
            for b in [nil, bias] {
              let context = "m \(m) k \(k) n \(n) [\(j0), \(j1)) bias \(b != nil)"
              var expected = [Double](repeating: 0, count: m * ldy), tolerance = expected
              for i in 0..<m {
                for j in j0..<j1 {
                  var sum = Double(b?[j] ?? 0), magnitude = abs(sum)
                  for c in 0..<k {
                    let term = Double(x[i * ldx + c]) * weight(j * k + c)
                    sum += term
                    magnitude += abs(term)
                  }
                  expected[i * ldy + j] = sum
                  tolerance[i * ldy + j] = 1e-5 * magnitude + 1e-30
                }
              }
              forEachLevel(upTo: top) { level in
                let y = wideGemm(x, m: m, k: k, ldx: ldx, w, fp32: fp32, bias: b, j0, j1, ldy: ldy)
                assertUntouched(y, m: m, ldy: ldy, j0, j1, "level \(level) \(context)")
                for i in 0..<m {
                  for j in j0..<j1 where abs(Double(y[i * ldy + j]) - expected[i * ldy + j]) > tolerance[i * ldy + j] {
                    XCTFail("level \(level) \(context) i \(i) j \(j): \(y[i * ldy + j]) vs \(expected[i * ldy + j])")
                    return
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
