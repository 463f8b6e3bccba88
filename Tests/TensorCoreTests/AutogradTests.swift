@testable import TensorCore
import XCTest

final class AutogradTests: XCTestCase {
  func testGradientsAccumulateAcrossBackwardPasses() {
    var x = Tensor([1, 2, 3])
    x.requiresGrad = true
    (x * x).sum().backward()
    (x * 3).sum().backward()
    XCTAssertEqual(x.grad?.scalars, [5, 7, 9])
    x.zeroGrad()
    XCTAssertNil(x.grad)
  }

  func testSharedSubexpressionsSumTheirGradients() {
    var x = Tensor([2])
    x.requiresGrad = true
    let y = x * x
    (y + y * x).sum().backward()  // d/dx (x² + x³) = 2x + 3x² = 16
    XCTAssertEqual(x.grad?.scalars, [16])
  }

  func testDetachAndNoGradStopRecording() {
    var x = Tensor([1, 2])
    x.requiresGrad = true
    XCTAssertFalse(x.detached().requiresGrad)
    XCTAssertFalse(withoutGradient { x * 2 }.requiresGrad)
    XCTAssertTrue((x * 2).requiresGrad)
    let partly = (x * x.detached()).sum()
    partly.backward()
    XCTAssertEqual(x.grad?.scalars, [1, 2])
    XCTAssertFalse((Tensor([1]) * 2).requiresGrad)
  }

  func testGraphIsFreedAfterBackward() {
    var x = Tensor([1, 2])
    x.requiresGrad = true
    weak var weakIntermediate: TensorStorage?
    do {
      let intermediate = x.exp()
      weakIntermediate = intermediate.storage
      let loss = (intermediate * 2).sum()
      loss.backward()
    }
    XCTAssertNil(weakIntermediate)
    XCTAssertNotNil(x.grad)
  }

  func testCopyOnWrite() {
    let a = Tensor([1, 2, 3])
    var b = a
    XCTAssertTrue(a.sharesStorage(with: b))
    b[1] = 20
    XCTAssertFalse(a.sharesStorage(with: b))
    XCTAssertEqual(a.scalars, [1, 2, 3])
    XCTAssertEqual(b.scalars, [1, 20, 3])
  }

  func testCreation() {
    XCTAssertEqual(Tensor.arange(0, 5).scalars, [0, 1, 2, 3, 4])
    XCTAssertEqual(Tensor.arange(1, 2, step: 0.25).scalars, [1, 1.25, 1.5, 1.75])
    XCTAssertEqual(Tensor.full(3, [2, 2]).scalars, [3, 3, 3, 3])
    XCTAssertEqual(Tensor.zeros([2, 0]).count, 0)
    XCTAssertEqual(Tensor(scalar: 4).shape, [])
    XCTAssertEqual(Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])[1, 2], 6)
  }
}
