import TensorCore
import XCTest

final class ElementwiseGradientTests: XCTestCase {
  func testBroadcastingArithmetic() {
    let a = testValues([2, 3, 4], seed: 1)
    for (shapeB, seed) in [([2, 3, 4], 2), ([3, 1], 3), ([4], 4), ([], 5), ([2, 1, 4], 6), ([1, 3, 1], 7)] {
      let b = testValues(shapeB, seed: seed, range: 0.5...1.5)
      assertGradientsMatch([a, b]) { $0[0] + $0[1] }
      assertGradientsMatch([a, b]) { $0[0] - $0[1] }
      assertGradientsMatch([a, b]) { $0[0] * $0[1] }
      assertGradientsMatch([a, b]) { $0[0] / $0[1] }
      assertGradientsMatch([b, a]) { $0[0] * $0[1] }
    }
  }

  func testBroadcastingForwardValues() {
    let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
    let column = Tensor([10, 20], shape: [2, 1])
    XCTAssertEqual((a + column).scalars, [11, 12, 13, 24, 25, 26])
    XCTAssertEqual((a - Tensor([1, 1, 1])).scalars, [0, 1, 2, 3, 4, 5])
    XCTAssertEqual((2 - a).scalars, [1, 0, -1, -2, -3, -4])
    XCTAssertEqual((a / 2).scalars, [0.5, 1, 1.5, 2, 2.5, 3])
    XCTAssertEqual((Tensor([1, 2], shape: [2, 1, 1]) * Tensor([1, 10, 100], shape: [1, 3])).shape, [2, 1, 3])
  }

  func testUnaryFunctions() {
    let x = testValues([3, 5], seed: 8)
    let positive = testValues([3, 5], seed: 9, range: 0.5...2)
    assertGradientsMatch([x]) { $0[0].negated() }
    assertGradientsMatch([x]) { $0[0].exp() }
    assertGradientsMatch([positive]) { $0[0].log() }
    assertGradientsMatch([positive]) { $0[0].sqrt() }
    assertGradientsMatch([positive]) { $0[0].rsqrt() }
    assertGradientsMatch([positive]) { $0[0].pow(3) }
    assertGradientsMatch([positive]) { $0[0].pow(-0.5) }
    assertGradientsMatch([x]) { $0[0].tanh() }
    assertGradientsMatch([x]) { $0[0].sigmoid() }
    assertGradientsMatch([x]) { $0[0].silu() }
    assertGradientsMatch([x * 3]) { $0[0].gelu() }
    assertGradientsMatch([x * 3]) { $0[0].gelu(approximation: .tanh) }
    assertGradientsMatch([x]) { $0[0].scaled(by: 2.5).shifted(by: -1) }
    // ReLU away from its kink at zero.
    let awayFromZero = x.scalars.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
    assertGradientsMatch([Tensor(awayFromZero, shape: [3, 5])]) { $0[0].relu() }
    // |x|ᵖ away from zero, on both signs; at zero the value is 0 and the gradient the subgradient 0.
    assertGradientsMatch([Tensor(awayFromZero, shape: [3, 5])]) { $0[0].absolutePower(1) }
    assertGradientsMatch([Tensor(awayFromZero, shape: [3, 5])], step: 1e-3) { $0[0].absolutePower(0.5) }
    var atZero = Tensor([0, -4, 0.25])
    atZero.requiresGrad = true
    let powered = atZero.absolutePower(0.5)
    assertClose(powered, Tensor([0, 2, 0.5]))
    powered.sum().backward()
    assertClose(atZero.grad!, Tensor([0, -0.25, 1]))
  }

  func testUnaryValues() {
    let x = Tensor([-1, 0, 0.5, 2])
    assertClose(x.gelu(), Tensor([-0.15865526, 0, 0.34573123, 1.9544997]))
    assertClose(x.gelu(approximation: .tanh), Tensor([-0.15880801, 0, 0.34571401, 1.9545977]))
    assertClose(x.silu(), Tensor([-0.26894142, 0, 0.31122967, 1.7615942]))
    assertClose(x.relu(), Tensor([0, 0, 0.5, 2]))
  }
}
