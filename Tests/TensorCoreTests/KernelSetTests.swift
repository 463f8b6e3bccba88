import Foundation
import TensorKernels
import XCTest

@testable import TensorCore

/// Every build of the ``KernelSet`` kernels this CPU can run (baseline, and the
/// AVX-512 build where supported; in a debug build both are baseline code)
/// against scalar Double references, on lengths that exercise vector tails;
/// and the builds against each other, which agree to float rounding (the
/// AVX-512 build fuses multiply-adds).
final class KernelSetTests: XCTestCase {
  /// Lengths around the 16- and 32-lane boundaries and the 256-element blocks.
  private let lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 100, 255, 256, 257, 1000, 1031, 2053]

  private func values(_ count: Int, seed: Int, range: ClosedRange<Float> = -4...4) -> [Float] {
    count == 0 ? [] : testValues([count], seed: seed, range: range).scalars
  }

  /// Runs `body` once per kernel build and checks the builds agree to float
  /// rounding: a few ulps, or 1e-6 absolute where a result cancels (GELU's
  /// `1 + erf` for negative x); NaN and infinities exactly. Returns the
  /// baseline's result.
  private func eachBuild(
    _ label: String, file: StaticString = #filePath, line: UInt = #line, _ body: (any KernelSet.Type) -> [Float]
  ) -> [Float] {
    let results = KernelChoice.available.map(body)
    for (set, result) in zip(KernelChoice.available, results).dropFirst() {
      for (i, (a, b)) in zip(result, results[0]).enumerated() {
        let agree = a.isNaN ? b.isNaN : (a == b || abs(a - b) <= 1e-6 * max(abs(a), abs(b)) + 1e-6)
        if !agree {
          XCTFail("\(label)[\(i)]: \(KernelChoice.name(of: set)) gives \(a), baseline \(b)", file: file, line: line)
          break
        }
      }
    }
    return results[0]
  }

  private func assertClose(
    _ actual: [Float], _ expected: [Double], relative: Double, absolute: Double, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(Double(a) - e) <= absolute + relative * abs(e)) {
      XCTFail("\(label)[\(i)]: \(a) vs \(e)", file: file, line: line)
      return
    }
  }

  func testUnaryFunctionsAndGradientsMatchDoubleReferences() {
    let references: [(UnaryFunction, (Double) -> Double, (Double) -> Double)] = [
      (.exp, Foundation.exp, Foundation.exp),
      (.tanh, Foundation.tanh, { 1 - Foundation.tanh($0) * Foundation.tanh($0) }),
      (.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, { let s = 1 / (1 + Foundation.exp(-$0)); return s * (1 - s) }),
      (.relu, { max($0, 0) }, { $0 > 0 ? 1 : 0 }),
      (.silu, { $0 / (1 + Foundation.exp(-$0)) }, { let s = 1 / (1 + Foundation.exp(-$0)); return s * (1 + $0 * (1 - s)) }),
      (.geluErf, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.squareRoot())) },
       { 0.5 * (1 + Foundation.erf($0 / 2.squareRoot())) + $0 * Foundation.exp(-$0 * $0 / 2) / (2 * Double.pi).squareRoot() }),
      (.geluTanh, geluTanhReference, { x in
        let h = 1e-4
        return (geluTanhReference(x + h) - geluTanhReference(x - h)) / (2 * h)
      }),
    ]
    for count in lengths {
      let x = values(count, seed: count)
      let g = values(count, seed: count + 1, range: -1...1)
      for (function, forward, derivative) in references {
        let y = eachBuild("\(function) forward, \(count)") { set in
          var out = [Float](repeating: .nan, count: count)
          out.withUnsafeMutableBufferPointer { o in set.apply(function, x, o.baseAddress!, count: count) }
          return out
        }
        assertClose(y, x.map { forward(Double($0)) }, relative: 1e-6, absolute: 1e-6, "\(function) forward")
        let dx = eachBuild("\(function) gradient, \(count)") { set in
          var out = [Float](repeating: .nan, count: count)
          out.withUnsafeMutableBufferPointer { o in
            set.applyGradient(function, g, x: x, y: y, into: o.baseAddress!, count: count)
          }
          return out
        }
        let expected = zip(x, g).map { derivative(Double($0)) * Double($1) }
        assertClose(dx, expected, relative: 1e-5, absolute: 1e-5, "\(function) gradient")
      }
    }
  }

  func testGeluTanhStaysFiniteAndExactForLargeArguments() {
    let x: [Float] = [-1e30, -200, -30, -9, 9, 30, 200, 1e30, .infinity, -.infinity]
    let y = eachBuild("gelu tanh extremes") { set in
      var out = [Float](repeating: .nan, count: x.count)
      out.withUnsafeMutableBufferPointer { o in set.apply(.geluTanh, x, o.baseAddress!, count: x.count) }
      return out
    }
    for (input, output) in zip(x, y) {
      if input > 0 { XCTAssertEqual(output, input, "gelu(\(input))") } else { XCTAssertEqual(output, 0, accuracy: 1e-20) }
    }
    let slopes = eachBuild("gelu tanh extreme slopes") { set in
      var out = [Float](repeating: .nan, count: x.count)
      let ones = [Float](repeating: 1, count: x.count)
      out.withUnsafeMutableBufferPointer { o in
        set.applyGradient(.geluTanh, ones, x: x, y: y, into: o.baseAddress!, count: x.count)
      }
      return out
    }
    for (input, slope) in zip(x, slopes) { XCTAssertEqual(slope, input > 0 ? 1 : 0, accuracy: 1e-20, "slope at \(input)") }
    XCTAssertTrue(BaselineKernels.applied(.geluTanh, [.nan])[0].isNaN)
  }

  /// Rows of softmax, log-softmax and log Σ exp, with a fully masked row.
  func testRowKernelsMatchDoubleReferences() {
    for width in [1, 7, 33, 256, 300, 1031, 2053] {
      let rows = 3
      var x = values(rows * width, seed: width, range: -6...6)
      for j in 0..<width { x[width + j] = -.infinity }  // row 1 fully masked
      let g = values(rows * width, seed: width + 7, range: -1...1)
      let reference = (0..<rows).map { r -> [Double] in
        let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
        let m = row.max()!
        if m == -.infinity { return [Double](repeating: 0, count: width) }
        let e = row.map { Foundation.exp($0 - m) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
      }
      let softmax = eachBuild("softmax \(width)") { set in
        var out = [Float](repeating: .nan, count: rows * width)
        out.withUnsafeMutableBufferPointer { o in set.softmax(x, into: o.baseAddress!, rows: rows, width: width) }
        return out
      }
      assertClose(softmax, reference.flatMap { $0 }, relative: 2e-6, absolute: 1e-7, "softmax \(width)")
      // Rows 0 and 2 (finite): log-softmax, log Σ exp and the cross-entropy gradient.
      for r in [0, 2] {
        let row = Array(x[(r * width)..<((r + 1) * width)])
        let logSoftmax = eachBuild("logSoftmax \(width)") { set in
          var out = [Float](repeating: .nan, count: width)
          out.withUnsafeMutableBufferPointer { o in set.logSoftmax(row, into: o.baseAddress!, rows: 1, width: width) }
          return out
        }
        assertClose(logSoftmax, reference[r].map { Foundation.log($0) }, relative: 1e-5, absolute: 1e-5, "logSoftmax")
        let lse = eachBuild("logSumExp \(width)") { set in
          var out: [Float] = [.nan]
          out.withUnsafeMutableBufferPointer { o in set.logSumExp(row, into: o.baseAddress!, rows: 1, width: width) }
          return out
        }
        // Bit-identical to what log-softmax subtracts.
        for j in 0..<width { XCTAssertEqual(row[j] - lse[0], logSoftmax[j], "lse vs logSoftmax at \(j)") }
        let gradient = eachBuild("crossEntropyGradient \(width)") { set in
          var out = [Float](repeating: .nan, count: width)
          out.withUnsafeMutableBufferPointer { o in
            set.crossEntropyGradient(
              row, logSumExp: lse, offset: 0.01, scale: 0.5, into: o.baseAddress!, rows: 1, width: width)
          }
          return out
        }
        assertClose(gradient, reference[r].map { ($0 - 0.01) * 0.5 }, relative: 2e-6, absolute: 1e-7, "CE gradient")
        // Gradients of softmax and log-softmax.
        let gr = Array(g[(r * width)..<((r + 1) * width)])
        let softmaxRow = Array(softmax[(r * width)..<((r + 1) * width)])
        let dSoftmax = eachBuild("softmaxGradient \(width)") { set in
          var out = [Float](repeating: .nan, count: width)
          out.withUnsafeMutableBufferPointer { o in
            set.softmaxGradient(gr, y: softmaxRow, into: o.baseAddress!, rows: 1, width: width)
          }
          return out
        }
        let dot = zip(gr, reference[r]).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        assertClose(dSoftmax, zip(gr, reference[r]).map { $1 * (Double($0) - dot) }, relative: 1e-4, absolute: 1e-6, "dsoftmax")
        let dLog = eachBuild("logSoftmaxGradient \(width)") { set in
          var out = [Float](repeating: .nan, count: width)
          out.withUnsafeMutableBufferPointer { o in
            set.logSoftmaxGradient(gr, y: logSoftmax, into: o.baseAddress!, rows: 1, width: width)
          }
          return out
        }
        let total = gr.reduce(0.0) { $0 + Double($1) }
        assertClose(dLog, zip(gr, reference[r]).map { Double($0) - $1 * total }, relative: 1e-4, absolute: 1e-5, "dlogsoftmax")
      }
    }
  }

  func testNormalizeAndGradientMatchDoubleReferences() {
    for width in [1, 5, 16, 31, 64, 257, 1031] {
      let rows = 4
      let x = values(rows * width, seed: width, range: -3...3)
      let w = values(width, seed: width + 1, range: 0.5...1.5)
      let b = values(width, seed: width + 2)
      let g = values(rows * width, seed: width + 3, range: -1...1)
      for centered in [true, false] {
        let epsilon: Float = 1e-5
        var means = [Float](repeating: 0, count: rows), inverse = [Float](repeating: 0, count: rows)
        let y = eachBuild("normalize \(width) \(centered)") { set in
          var out = [Float](repeating: .nan, count: rows * width)
          out.withUnsafeMutableBufferPointer { o in
            means.withUnsafeMutableBufferPointer { m in
              inverse.withUnsafeMutableBufferPointer { s in
                set.normalize(
                  x, weight: w, bias: centered ? b : nil, epsilon: epsilon, centered: centered, into: o.baseAddress!,
                  means: m.baseAddress!, inverseStd: s.baseAddress!, rows: rows, width: width)
              }
            }
          }
          return out
        }
        var expected: [Double] = [], expectedDx: [Double] = []
        var expectedDw = [Double](repeating: 0, count: width), expectedDb = [Double](repeating: 0, count: width)
        for r in 0..<rows {
          let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
          let gr = g[(r * width)..<((r + 1) * width)].map(Double.init)
          let mean = centered ? row.reduce(0, +) / Double(width) : 0
          let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
          let inv = 1 / (variance + Double(epsilon)).squareRoot()
          let xhat = row.map { ($0 - mean) * inv }
          expected += (0..<width).map { xhat[$0] * Double(w[$0]) + (centered ? Double(b[$0]) : 0) }
          let dy = (0..<width).map { gr[$0] * Double(w[$0]) }
          let meanDy = centered ? dy.reduce(0, +) / Double(width) : 0
          let meanDyXhat = zip(dy, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(width)
          expectedDx += (0..<width).map { inv * (dy[$0] - meanDy - xhat[$0] * meanDyXhat) }
          for j in 0..<width {
            expectedDw[j] += gr[j] * xhat[j]
            expectedDb[j] += gr[j]
          }
        }
        assertClose(y, expected, relative: 1e-5, absolute: 1e-5, "normalize \(width)")
        let gradients = eachBuild("normalizeGradient \(width) \(centered)") { set in
          var dx = [Float](repeating: .nan, count: rows * width)
          var dw = [Float](repeating: 0, count: width), db = [Float](repeating: 0, count: width)
          dx.withUnsafeMutableBufferPointer { o in
            dw.withUnsafeMutableBufferPointer { pw in
              db.withUnsafeMutableBufferPointer { pb in
                set.normalizeGradient(
                  g, x: x, weight: w, means: means, inverseStd: inverse, centered: centered, into: o.baseAddress!,
                  weightGradient: pw.baseAddress!, biasGradient: pb.baseAddress!, rows: rows, width: width)
              }
            }
          }
          return dx + dw + db
        }
        assertClose(Array(gradients[..<(rows * width)]), expectedDx, relative: 1e-4, absolute: 1e-4, "dx \(width)")
        assertClose(Array(gradients[(rows * width)..<(rows * width + width)]), expectedDw, relative: 1e-4, absolute: 1e-4, "dw")
        assertClose(Array(gradients[(rows * width + width)...]), expectedDb, relative: 1e-5, absolute: 1e-5, "db")
      }
    }
  }

  func testAdamWMatchesTheFormulaExactly() {
    for count in lengths {
      let p0 = values(count, seed: count), g = values(count, seed: count + 1, range: -1...1)
      let m0 = values(count, seed: count + 2, range: -0.1...0.1), v0 = values(count, seed: count + 3, range: 0...0.01)
      let step = AdamWStep(
        learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, decay: 0.001, correction1: 0.19, correction2: 0.002)
      let result = eachBuild("adamW \(count)") { set in
        var (p, m, v) = (p0, m0, v0)
        p.withUnsafeMutableBufferPointer { pp in
          m.withUnsafeMutableBufferPointer { pm in
            v.withUnsafeMutableBufferPointer { pv in
              set.adamW(
                step, parameter: pp.baseAddress!, gradient: g, firstMoment: pm.baseAddress!,
                secondMoment: pv.baseAddress!, count: count)
            }
          }
        }
        return p + m + v
      }
      for i in 0..<count {
        let m = 0.9 * m0[i] + (1 - 0.9) * g[i]
        let v = 0.999 * v0[i] + (1 - 0.999) * g[i] * g[i]
        let p = p0[i] - 0.001 * p0[i] - 0.01 * (m / 0.19) / ((v / 0.002).squareRoot() + 1e-8)
        XCTAssertEqual([result[i], result[count + i], result[2 * count + i]], [p, m, v], "adamW element \(i) of \(count)")
      }
    }
  }

  func testTensorOpsAgreeAcrossThreadCounts() {
    let x = testValues([37, 300], seed: 5, range: -3...3)
    let w = testValues([300], seed: 6, range: 0.5...1.5)
    func run() -> [[Float]] {
      var leaf = x, weight = w
      leaf.requiresGrad = true
      weight.requiresGrad = true
      let out = leaf.rmsNorm(weight: weight).softmax().gelu(approximation: .tanh)
      (out * testValues(out.shape, seed: 7)).sum().backward()
      return [out.scalars, leaf.grad!.scalars, weight.grad!.scalars]
    }
    let before = ThreadCount.current
    defer { ThreadCount.set(before) }
    ThreadCount.set(1)
    let one = run()
    ThreadCount.set(2)
    let two = run()
    for (a, b) in zip(one, two) { XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern)) }
  }
}

/// FastMath with fused multiply-adds (the AVX-512 build's arithmetic) keeps the
/// accuracy FastMathTests asks of the separate form.
final class FusedFastMathTests: XCTestCase {
  func testFusedFunctionsAreAccurate() {
    let cases: [(String, (Float) -> Float, (Double) -> Double, ClosedRange<Float>)] = [
      ("exp", { FastMath.exp($0, using: FusedMultiplyAdd.self) }, Foundation.exp, -87...88),
      ("expm1", { FastMath.expm1($0, using: FusedMultiplyAdd.self) }, Foundation.expm1, -20...88),
      ("log", { FastMath.log($0, using: FusedMultiplyAdd.self) }, Foundation.log, 1e-6...1e6),
      ("tanh", { FastMath.tanh($0, using: FusedMultiplyAdd.self) }, Foundation.tanh, -12...12),
      ("erf", { FastMath.erf($0, using: FusedMultiplyAdd.self) }, Foundation.erf, -6...6),
    ]
    for (name, fast, reference, range) in cases {
      for scale in [Float(1), 1e-3] {
        let (low, high) = (range.lowerBound * scale, range.upperBound * scale)
        var worst = 0.0
        for i in 0...20_000 {
          let x = low + (high - low) * Float(i) / 20_000
          let expected = reference(Double(x))
          guard abs(expected) >= Double(Float.leastNormalMagnitude) else { continue }
          worst = max(worst, abs(Double(fast(x)) - expected) / abs(expected))
        }
        XCTAssertLessThan(worst, 4e-7, "\(name) on \(low)...\(high)")
      }
    }
  }
}

/// Batched small products run one whole product per thread.
final class BatchedMatmulTests: XCTestCase {
  func testBatchedSmallProductsMatchOneAtATime() {
    let before = ThreadCount.current
    defer { ThreadCount.set(before) }
    ThreadCount.set(2)
    let a = testValues([3, 5, 33, 17], seed: 1), b = testValues([5, 29, 17], seed: 2)
    let product = a.matmul(b, transposeB: true)  // [3, 5, 33, 29], b broadcast over the first axis
    for i in 0..<3 {
      for h in 0..<5 {
        let ai = a.slice(axis: 0, i..<(i + 1)).slice(axis: 1, h..<(h + 1)).reshaped([33, 17])
        let bh = b.slice(axis: 0, h..<(h + 1)).reshaped([29, 17])
        let expected = ai.matmul(bh, transposeB: true).scalars
        let actual = product.slice(axis: 0, i..<(i + 1)).slice(axis: 1, h..<(h + 1)).scalars
        for (x, y) in zip(actual, expected) { XCTAssertEqual(x, y, accuracy: 1e-5) }
      }
    }
    // The library's thread count is restored.
    let large = testValues([256, 256], seed: 3)
    XCTAssertEqual(large.matmul(large).shape, [256, 256])
  }
}

/// Jump-ahead and the parallel fills that rely on it.
final class RandomJumpAheadTests: XCTestCase {
  func testAdvanceEqualsDrawingThatManyValues() {
    for steps in [0, 1, 2, 3, 31, 1000, 65_537] as [UInt64] {
      var serial = SeededRandom(seed: 9, stream: 3)
      for _ in 0..<steps { _ = serial.nextUInt32() }
      let jumped = SeededRandom(seed: 9, stream: 3).advanced(by: steps)
      XCTAssertEqual(jumped, serial, "advance by \(steps)")
    }
  }

  func testInterleavedDrawsEqualSerialDraws() {
    for count in [0, 1, 3, 4, 5, 8, 1001] {
      var serial = SeededRandom(seed: 21, stream: 5), interleaved = serial
      let expected = (0..<count).map { _ in serial.nextUInt32() }
      var drawn = [UInt32](repeating: 0, count: count)
      interleaved.forEachUInt32(count) { i, value in drawn[i] = value }
      XCTAssertEqual(drawn, expected, "\(count) draws")
      XCTAssertEqual(interleaved, serial, "state after \(count) draws")
    }
  }

  func testParallelMaskEqualsSerialDraws() {
    let shape = [3, 70_001]  // several chunks on two threads, odd length
    var generator = SeededRandom(seed: 4)
    var serial = generator
    let before = ThreadCount.current
    defer { ThreadCount.set(before) }
    ThreadCount.set(2)
    let mask = Tensor.bernoulliMask(shape, keepProbability: 0.9, using: &generator)
    let expected = (0..<mask.count).map { _ -> Float in serial.nextFloat() < 0.9 ? 1 : 0 }
    XCTAssertEqual(mask.scalars, expected)
    XCTAssertEqual(generator, serial, "the generator ends where serial draws leave it")
  }

  func testDropoutIsTheScaledMaskProduct() {
    let before = ThreadCount.current
    defer { ThreadCount.set(before) }
    ThreadCount.set(2)
    let x = testValues([5, 41_001], seed: 8)
    var generator = SeededRandom(seed: 11)
    var copy = generator
    var leaf = x
    leaf.requiresGrad = true
    let out = leaf.dropout(rate: 0.25, using: &generator)
    let mask = Tensor.bernoulliMask(x.shape, keepProbability: 0.75, using: &copy).scaled(by: 1 / 0.75)
    XCTAssertEqual(out.scalars, (x * mask).scalars)
    XCTAssertEqual(generator, copy, "dropout draws one value per element")
    out.sum().backward()
    XCTAssertEqual(leaf.grad?.scalars, mask.scalars)
  }
}

extension KernelSet {
  static func applied(_ function: UnaryFunction, _ x: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    out.withUnsafeMutableBufferPointer { o in apply(function, x, o.baseAddress!, count: x.count) }
    return out
  }
}

private func geluTanhReference(_ x: Double) -> Double {
  0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
}
