import TensorCore
import XCTest

final class ShapeGradientTests: XCTestCase {
  func testReductions() {
    let x = testValues([2, 3, 4], seed: 11)
    assertGradientsMatch([x]) { $0[0].sum() }
    assertGradientsMatch([x]) { $0[0].sum(axes: [1]) }
    assertGradientsMatch([x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
    assertGradientsMatch([x]) { $0[0].mean(axes: [-1]) }
    assertGradientsMatch([x]) { $0[0].mean(axes: [0, 1], keepDims: true) }
    // Max needs values far apart compared with the finite-difference step.
    let distinct = Tensor((0..<24).map { Float(($0 * 7) % 24) * 0.1 - 1.2 }, shape: [2, 3, 4])
    assertGradientsMatch([distinct]) { $0[0].max(axes: [2]) }
    assertGradientsMatch([distinct]) { $0[0].max(axes: [0], keepDims: true) }
    assertGradientsMatch([distinct]) { $0[0].max(axes: [0, 2]) }
    assertGradientsMatch([distinct]) { $0[0].max() }
  }

  func testReductionValues() {
    let x = Tensor([1, 5, 3, 4, 2, 6], shape: [2, 3])
    XCTAssertEqual(x.sum(axes: [0]).scalars, [5, 7, 9])
    XCTAssertEqual(x.sum(axes: [1], keepDims: true).shape, [2, 1])
    XCTAssertEqual(x.max(axes: [1]).scalars, [5, 6])
    XCTAssertEqual(x.mean().item(), 3.5)
    XCTAssertEqual(x.argmaxLastAxis(), [1, 2])
  }

  func testReshapePermuteTranspose() {
    let x = testValues([2, 3, 4], seed: 12)
    assertGradientsMatch([x]) { $0[0].reshaped([6, -1]) }
    assertGradientsMatch([x]) { $0[0].permuted([2, 0, 1]) }
    assertGradientsMatch([x]) { $0[0].transposed(0, 2) }
    let values = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]).transposed()
    XCTAssertEqual(values.shape, [3, 2])
    XCTAssertEqual(values.scalars, [1, 4, 2, 5, 3, 6])
  }

  func testSliceConcatStack() {
    let x = testValues([3, 4, 2], seed: 13)
    let y = testValues([3, 2, 2], seed: 14)
    assertGradientsMatch([x]) { $0[0].slice(axis: 1, 1..<3) }
    assertGradientsMatch([x, y]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
    assertGradientsMatch([x, x * 2]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
    let joined = Tensor.concat([Tensor([1, 2], shape: [1, 2]), Tensor([3, 4, 5, 6], shape: [2, 2])], axis: 0)
    XCTAssertEqual(joined.scalars, [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).scalars, [1, 3, 2, 4])
  }

  func testGatherRowsAccumulatesRepeats() {
    let table = testValues([5, 3], seed: 15)
    assertGradientsMatch([table]) { $0[0].gatherRows([4, 0, 4, 2, 4, 1], indexShape: [2, 3]) }
    var leaf = Tensor.zeros([3, 2])
    leaf.requiresGrad = true
    leaf.gatherRows([1, 1, 2]).sum().backward()
    XCTAssertEqual(leaf.grad?.scalars, [0, 0, 2, 2, 1, 1])
  }

  func testMaskedFillAndWhere() {
    let x = testValues([2, 3, 4], seed: 16)
    let mask = Tensor([1, 0, 0, 1], shape: [1, 1, 4])
    assertGradientsMatch([x]) { $0[0].maskedFill(mask, with: -7) }
    let filled = Tensor([1, 2, 3, 4], shape: [2, 2]).maskedFill(Tensor([0, 1], shape: [1, 2]), with: -.infinity)
    XCTAssertEqual(filled.scalars, [1, -.infinity, 3, -.infinity])
    let condition = Tensor([1, 0, 1], shape: [3])
    let y = testValues([2, 3, 3], seed: 17)
    assertGradientsMatch([y, y * 3]) { $0[0].selecting(where: condition, otherwise: $0[1]) }
  }
}

extension ShapeGradientTests {
  /// Rows longer than a vector: the first of equal maxima, NaN never chosen, −∞ rows give 0.
  func testArgmaxTakesTheFirstLargestAndSkipsNaN() {
    var values = [Float](repeating: 0, count: 3 * 37)
    values[5] = 2; values[30] = 2               // row 0: tie, the first wins
    values[37 + 3] = .nan; values[37 + 20] = 1  // row 1: NaN skipped
    for j in 0..<37 { values[74 + j] = -.infinity }
    values[74 + 36] = .nan                       // row 2: nothing above −∞
    XCTAssertEqual(Tensor(values, shape: [3, 37]).argmaxLastAxis(), [5, 20, 0])
    XCTAssertEqual(Tensor([1, 3, 3], shape: [1, 3]).argmaxLastAxis(), [1])
  }
}
