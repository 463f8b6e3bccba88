import TensorCore
import XCTest

final class MatmulGradientTests: XCTestCase {
  func testMatrixProductValues() {
    let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
    let b = Tensor([7, 8, 9, 10, 11, 12], shape: [3, 2])
    XCTAssertEqual(a.matmul(b).scalars, [58, 64, 139, 154])
    XCTAssertEqual(a.matmul(a, transposeB: true).scalars, [14, 32, 32, 77])
    XCTAssertEqual(a.matmul(a, transposeA: true).shape, [3, 3])
    XCTAssertEqual(b.matmul(a, transposeA: true, transposeB: true).scalars, [58, 139, 64, 154])
  }

  func testEveryTransposeCombination() {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      let a = testValues(ta ? [4, 3] : [3, 4], seed: 21)
      let b = testValues(tb ? [5, 4] : [4, 5], seed: 22)
      assertGradientsMatch([a, b]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
    }
  }

  func testBatchedWithBroadcastBatchDimensions() {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
      let a = testValues(ta ? [2, 1, 4, 3] : [2, 1, 3, 4], seed: 23)
      let b = testValues(tb ? [3, 5, 4] : [3, 4, 5], seed: 24)
      assertGradientsMatch([a, b]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
    }
    // A batched left operand times one matrix (the Linear layer's case).
    let x = testValues([2, 3, 4], seed: 25)
    let w = testValues([5, 4], seed: 26)
    assertGradientsMatch([x, w]) { $0[0].matmul($0[1], transposeB: true) }
    assertGradientsMatch([x, w.transposed()]) { $0[0].matmul($0[1]) }
  }

  func testBatchedMatchesPerItemProducts() {
    let a = testValues([3, 2, 4], seed: 27)
    let b = testValues([3, 4, 2], seed: 28)
    let batched = a.matmul(b)
    for i in 0..<3 {
      let single = a.slice(axis: 0, i..<(i + 1)).reshaped([2, 4]).matmul(b.slice(axis: 0, i..<(i + 1)).reshaped([4, 2]))
      assertClose(batched.slice(axis: 0, i..<(i + 1)).reshaped([2, 2]), single)
    }
  }
}
