import TensorCore
import XCTest

final class SingularValueTests: XCTestCase {
  private var methods: [SingularValueDecomposition.Method] {
    SingularValueDecomposition.hasLAPACK ? [.lapack, .jacobi] : [.jacobi]
  }

  func testKnownMatrices() throws {
    for method in methods {
      let svd = try SingularValueDecomposition(Tensor([3, 0, 4, 5], shape: [2, 2]), method: method)
      XCTAssertEqual(svd.s[0], 3 * Float(5).squareRoot(), accuracy: 1e-5, "\(method)")
      XCTAssertEqual(svd.s[1], Float(5).squareRoot(), accuracy: 1e-5, "\(method)")
      let diagonal = try SingularValueDecomposition(Tensor([0, 0, 2, 0, -7, 0], shape: [2, 3]), method: method)
      XCTAssertEqual(diagonal.s[0], 7, accuracy: 1e-5)
      XCTAssertEqual(diagonal.s[1], 2, accuracy: 1e-5)
      XCTAssertEqual(diagonal.u.shape, [2, 2])
      XCTAssertEqual(diagonal.vt.shape, [2, 3])
    }
  }

  /// Tall, wide, square and rank-deficient matrices: U Σ Vᵀ rebuilds A, the
  /// factors are orthonormal, and LAPACK and the Jacobi fallback agree.
  func testFactorsRebuildTheMatrixAndTheTwoMethodsAgree() throws {
    var generator = SeededRandom(seed: 1)
    var shapes = [[7, 4], [4, 9], [12, 12], [1, 5]].map { Tensor.normal($0, std: 1, using: &generator) }
    let low = Tensor.normal([10, 2], std: 1, using: &generator).matmul(Tensor.normal([2, 6], std: 1, using: &generator))
    shapes.append(low)
    for matrix in shapes {
      var results: [SingularValueDecomposition] = []
      for method in methods {
        let svd = try SingularValueDecomposition(matrix, method: method)
        let (m, n, k) = (matrix.shape[0], matrix.shape[1], svd.s.count)
        XCTAssertEqual(k, min(m, n))
        XCTAssertEqual(svd.s, svd.s.sorted(by: >))
        let (left, right) = svd.truncated(rank: k)
        let rebuilt = left.matmul(right).scalars
        for (a, b) in zip(rebuilt, matrix.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4, "\(method) \(matrix.shape)") }
        let gram = svd.u.matmul(svd.u, transposeA: true).scalars
        for i in 0..<k where svd.s[i] > 1e-4 { XCTAssertEqual(gram[i * k + i], 1, accuracy: 1e-4, "\(method) \(matrix.shape)") }
        results.append(svd)
      }
      guard results.count == 2 else { continue }
      for (a, b) in zip(results[0].s, results[1].s) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, b), "\(matrix.shape)") }
      // Distinct singular values: the same vectors (signs are normalised).
      let k = results[0].s.count
      for j in 0..<k where results[0].s[j] > 1e-3 {
        for i in 0..<matrix.shape[0] {
          XCTAssertEqual(results[0].u.scalars[i * k + j], results[1].u.scalars[i * k + j], accuracy: 1e-3, "\(matrix.shape) u[\(i), \(j)]")
        }
      }
    }
  }

  func testTruncationKeepsTheLeadingSingularPairs() throws {
    var generator = SeededRandom(seed: 2)
    let matrix = Tensor.normal([8, 6], std: 1, using: &generator)
    let svd = try SingularValueDecomposition(matrix)
    let (left, right) = svd.truncated(rank: 2)
    XCTAssertEqual(left.shape, [8, 2])
    XCTAssertEqual(right.shape, [2, 6])
    // The error of the best rank-2 approximation is the norm of the dropped singular values.
    let residual = zip(left.matmul(right).scalars, matrix.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    XCTAssertEqual(residual, svd.s[2...].map { $0 * $0 }.reduce(0, +), accuracy: 1e-3)
  }

  func testNonFiniteMatricesAreRefused() {
    XCTAssertThrowsError(try SingularValueDecomposition(Tensor([1, .nan, 0, 1], shape: [2, 2]))) {
      XCTAssertEqual($0 as? SingularValueError, .nonFinite(index: 1))
    }
  }
}
