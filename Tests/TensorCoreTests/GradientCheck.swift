import TensorCore
import XCTest

/// Deterministic test values: a fixed pseudo-random sequence, so every run and
/// machine checks the same points.
func testValues(_ shape: [Int], seed: Int, range: ClosedRange<Float> = -1...1) -> Tensor {
  let n = shape.reduce(1, *)
  var state = UInt64(truncatingIfNeeded: seed &* 2_654_435_761 &+ 12345)
  let values = (0..<n).map { _ -> Float in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let unit = Float(state >> 40) / Float(1 << 24)
    return range.lowerBound + unit * (range.upperBound - range.lowerBound)
  }
  return Tensor(values, shape: shape)
}

/// Compares reverse-mode gradients of `function` with central differences.
///
/// The scalar checked is `Σ function(inputs) ⊙ R` for fixed random `R`, summed
/// in Double; each input element is nudged by ±`step`.
func assertGradientsMatch(
  _ inputs: [Tensor], step: Float = 1e-2, relativeTolerance: Double = 2e-2, absoluteTolerance: Double = 2e-3,
  file: StaticString = #filePath, line: UInt = #line, _ function: ([Tensor]) -> Tensor
) {
  var leaves = inputs
  for i in leaves.indices { leaves[i].requiresGrad = true }
  let output = function(leaves)
  let weights = testValues(output.shape, seed: 99)
  (output * weights).sum().backward()

  func objective(_ values: [Tensor]) -> Double {
    let result = withoutGradient { function(values) }
    return zip(result.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  }

  for (index, leaf) in leaves.enumerated() {
    guard let analytic = leaf.grad else {
      XCTFail("input \(index) got no gradient", file: file, line: line)
      continue
    }
    XCTAssertEqual(analytic.shape, leaf.shape, "gradient shape of input \(index)", file: file, line: line)
    var worst = 0.0
    for element in 0..<leaf.count {
      var plus = inputs, minus = inputs
      plus[index].withMutableValues { $0[element] += step }
      minus[index].withMutableValues { $0[element] -= step }
      let numeric = (objective(plus) - objective(minus)) / (2 * Double(step))
      let error = abs(Double(analytic.scalars[element]) - numeric)
      let allowed = absoluteTolerance + relativeTolerance * abs(numeric)
      worst = max(worst, error / allowed)
      if error > allowed {
        XCTFail(
          "input \(index) element \(element): analytic \(analytic.scalars[element]) vs numeric \(numeric)",
          file: file, line: line)
        return
      }
    }
    XCTAssertLessThanOrEqual(worst, 1, file: file, line: line)
  }
}

/// Asserts two tensors have one shape and close values.
func assertClose(
  _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-5,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(actual.shape, expected.shape, "shape", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  for (i, (a, e)) in zip(actual.scalars, expected.scalars).enumerated()
  where !(abs(a - e) <= tolerance * max(1, abs(e))) {
    XCTFail("element \(i): \(a) vs \(e)", file: file, line: line)
    return
  }
}
