import XCTest

@testable import TensorCore

/// The signature shared by ``BLAS/sgemm`` and the fallback, so one set of
/// cases checks every backend.
typealias GEMMFunction = (
  _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
  _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) -> Void

/// One GEMM problem with padded leading dimensions and seeded random operands,
/// checked against a Double-accumulated reference.
struct GEMMCase: CustomStringConvertible {
  let transposeA: Bool, transposeB: Bool
  let m: Int, n: Int, k: Int
  var alpha: Float = 1
  var beta: Float = 0
  /// Extra floats at the end of each stored row (lda > width).
  var padding = 0

  var description: String {
    "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) pad=\(padding)"
  }

  /// Runs `gemm` and fails the test on any element of C (padding included)
  /// that differs from the reference by more than float rounding allows.
  func check(_ gemm: GEMMFunction, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededRandom(seed: seed)
    let lda = (transposeA ? m : k) + padding, ldb = (transposeB ? k : n) + padding
    let ldc = n + padding
    let a = (0..<((transposeA ? k : m) * lda)).map { _ in Float.random(in: -1..<1, using: &rng) }
    let b = (0..<((transposeB ? n : k) * ldb)).map { _ in Float.random(in: -1..<1, using: &rng) }
    // beta == 0 must not read C: fill it with NaN to prove it.
    var c = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : Float.random(in: -1..<1, using: &rng) }
    let original = c
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          gemm(
            transposeA, transposeB, m, n, k, alpha, pa.baseAddress!, lda, pb.baseAddress!, ldb,
            beta, pc.baseAddress!, ldc)
        }
      }
    }
    for i in 0..<m {
      for j in 0..<ldc {
        let index = i * ldc + j
        guard j < n else {
          XCTAssertEqual(
            c[index].bitPattern, original[index].bitPattern,
            "\(self): padding of C changed at (\(i), \(j))", file: file, line: line)
          continue
        }
        var sum = 0.0, magnitude = 0.0
        for p in 0..<k {
          let av = Double(transposeA ? a[p * lda + i] : a[i * lda + p])
          let bv = Double(transposeB ? b[j * ldb + p] : b[p * ldb + j])
          sum += av * bv
          magnitude += abs(av * bv)
        }
        let old = beta == 0 ? 0 : Double(beta) * Double(original[index])
        let expected = Double(alpha) * sum + old
        let tolerance = 2e-6 * (Double(abs(alpha)) * magnitude + abs(old)) + 1e-6
        if !(abs(Double(c[index]) - expected) <= tolerance) {
          XCTFail("\(self): C[\(i), \(j)] = \(c[index]), expected \(expected)", file: file, line: line)
          return
        }
      }
    }
  }

  /// Every transpose combination of a range of awkward shapes: empty, one,
  /// odd, exactly one tile, across the depth block (k > 256), across the
  /// column block (n > 1024), with and without padding and scaling.
  static var awkward: [GEMMCase] {
    let shapes = [
      (1, 1, 1), (0, 5, 3), (5, 0, 3), (4, 3, 0), (7, 13, 5), (6, 8, 19), (13, 17, 300),
      (37, 29, 1), (1, 50, 70), (50, 1, 70), (3, 1030, 2),
    ]
    let scalings: [(Float, Float, Int)] = [(1, 0, 0), (0.75, 1, 3), (-2, -0.5, 1)]
    var cases: [GEMMCase] = []
    for (m, n, k) in shapes {
      for transposeA in [false, true] {
        for transposeB in [false, true] {
          for (alpha, beta, padding) in scalings {
            cases.append(
              GEMMCase(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                alpha: alpha, beta: beta, padding: padding))
          }
        }
      }
    }
    return cases
  }
}

final class GEMMTests: XCTestCase {
  private func fallback(threads: Int, parallelThreshold: Int = FallbackGEMM.parallelThreshold) -> GEMMFunction {
    { tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      FallbackGEMM.sgemm(
        transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads,
        parallelThreshold: parallelThreshold)
    }
  }

  func testFallbackMatchesReferenceOnAwkwardShapes() {
    for (index, gemmCase) in GEMMCase.awkward.enumerated() {
      gemmCase.check(fallback(threads: 1), seed: UInt64(index))
    }
  }

  func testFallbackSplitsRowsOrColumnsAcrossThreads() {
    // A threshold of 1 forces the parallel path on small problems; tall and
    // wide shapes exercise both ways of splitting C, including uneven parts.
    let cases = [
      GEMMCase(transposeA: false, transposeB: false, m: 41, n: 9, k: 20, beta: 0.5, padding: 2),
      GEMMCase(transposeA: true, transposeB: true, m: 5, n: 43, k: 30, alpha: 2),
      GEMMCase(transposeA: false, transposeB: true, m: 7, n: 7, k: 7, beta: 1),
    ]
    for threads in [2, 3] {
      for (index, gemmCase) in cases.enumerated() {
        gemmCase.check(fallback(threads: threads, parallelThreshold: 1), seed: 100 + UInt64(index))
      }
    }
  }

  func testAlphaZeroOnlyScalesC() {
    GEMMCase(transposeA: false, transposeB: false, m: 4, n: 5, k: 6, alpha: 0, beta: 0.5)
      .check(fallback(threads: 1), seed: 7)
    GEMMCase(transposeA: true, transposeB: false, m: 4, n: 5, k: 6, alpha: 0, beta: 0)
      .check(fallback(threads: 1), seed: 8)
  }

  func testPublicSgemmMatchesReferenceWhateverTheBackend() {
    let gemm: GEMMFunction = { tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      BLAS.sgemm(
        transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    for (index, gemmCase) in GEMMCase.awkward.enumerated() where index % 3 == 0 {
      gemmCase.check(gemm, seed: 1000 + UInt64(index))
    }
  }

  func testKnownProduct() {
    // [[1, 2, 3], [4, 5, 6]] · [[7, 8], [9, 10], [11, 12]] = [[58, 64], [139, 154]]
    let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [7, 8, 9, 10, 11, 12]
    var c = [Float](repeating: .nan, count: 4)
    FallbackGEMM.sgemm(
      transposeA: false, transposeB: false, m: 2, n: 2, k: 3, alpha: 1, a: a, lda: 3, b: b,
      ldb: 2, beta: 0, c: &c, ldc: 2, threads: 1)
    XCTAssertEqual(c, [58, 64, 139, 154])
  }
}
