import TensorCore
import XCTest

final class FusedKernelTests: XCTestCase {
  func testSoftmaxGradientsAndComposite() {
    let x = testValues([3, 2, 5], seed: 31, range: -3...3)
    assertGradientsMatch([x]) { $0[0].softmax() }
    assertGradientsMatch([x]) { $0[0].logSoftmax() }
    let composite = withoutGradient { () -> Tensor in
      let shifted = x - x.max(axes: [-1], keepDims: true)
      return shifted.exp() / shifted.exp().sum(axes: [-1], keepDims: true)
    }
    assertClose(x.softmax(), composite)
    assertClose(x.logSoftmax(), composite.log(), tolerance: 1e-5)
    // Large logits stay finite.
    let big = Tensor([1000, 1001, 999], shape: [1, 3])
    XCTAssertTrue(big.softmax().scalars.allSatisfy { $0.isFinite })
    XCTAssertTrue(big.logSoftmax().scalars.allSatisfy { $0.isFinite })
  }

  func testLayerNormAgainstComposite() {
    let x = testValues([2, 3, 6], seed: 32, range: -2...2)
    let w = testValues([6], seed: 33, range: 0.5...1.5)
    let b = testValues([6], seed: 34)
    assertGradientsMatch([x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    assertGradientsMatch([x]) { $0[0].layerNorm(weight: nil, bias: nil) }
    let composite: ([Tensor]) -> Tensor = { v in
      let centred = v[0] - v[0].mean(axes: [-1], keepDims: true)
      let variance = (centred * centred).mean(axes: [-1], keepDims: true)
      return centred * (variance + 1e-5).rsqrt() * v[1] + v[2]
    }
    assertFusedMatchesComposite([x, w, b], fused: { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }, composite: composite)
  }

  func testRMSNormAgainstComposite() {
    let x = testValues([2, 3, 6], seed: 35, range: -2...2)
    let w = testValues([6], seed: 36, range: 0.5...1.5)
    assertGradientsMatch([x, w]) { $0[0].rmsNorm(weight: $0[1]) }
    let composite: ([Tensor]) -> Tensor = { v in
      v[0] * ((v[0] * v[0]).mean(axes: [-1], keepDims: true) + 1e-6).rsqrt() * v[1]
    }
    assertFusedMatchesComposite([x, w], fused: { $0[0].rmsNorm(weight: $0[1]) }, composite: composite)
  }

  func testCrossEntropyWithIgnoreIndexAndSmoothing() {
    let logits = testValues([5, 7], seed: 37, range: -2...2)
    let targets = [3, -100, 0, 6, -100]
    assertGradientsMatch([logits]) { $0[0].crossEntropy(targets: targets) }
    assertGradientsMatch([logits]) { $0[0].crossEntropy(targets: targets, labelSmoothing: 0.1) }
    // Composite: −mean over counted rows of ((1−ε)·log p[target] + ε·mean(log p)).
    for smoothing: Float in [0, 0.1] {
      let composite: ([Tensor]) -> Tensor = { v in
        let logp = v[0].logSoftmax()
        var rows: [Tensor] = []
        for (r, t) in targets.enumerated() where t != -100 {
          let row = logp.slice(axis: 0, r..<(r + 1))
          let picked = row.slice(axis: 1, t..<(t + 1)).sum()
          rows.append(picked.scaled(by: 1 - smoothing) + row.mean().scaled(by: smoothing))
        }
        return Tensor.stack(rows).mean().negated()
      }
      assertFusedMatchesComposite(
        [logits], fused: { $0[0].crossEntropy(targets: targets, labelSmoothing: smoothing) }, composite: composite)
    }
    // All targets ignored: a zero loss, and zero gradient.
    var leaf = logits
    leaf.requiresGrad = true
    let none = leaf.crossEntropy(targets: [Int](repeating: -100, count: 5))
    XCTAssertEqual(none.item(), 0)
    none.backward()
    XCTAssertEqual(leaf.grad?.scalars.allSatisfy { $0 == 0 }, true)
  }

  func testKLDivergenceWithTemperatureAndMask() {
    let student = testValues([2, 3, 5], seed: 38, range: -2...2)
    let teacher = testValues([2, 3, 5], seed: 39, range: -2...2)
    assertGradientsMatch([student]) { $0[0].klDivergence(teacherLogits: teacher, temperature: 2) }
    let mask = [true, false, true, true, false, true]
    assertGradientsMatch([student]) { $0[0].klDivergence(teacherLogits: teacher, temperature: 1, rowMask: mask) }
    XCTAssertEqual(teacher.klDivergence(teacherLogits: teacher).item(), 0, accuracy: 1e-6)
    XCTAssertGreaterThan(student.klDivergence(teacherLogits: teacher).item(), 0)
    // The fused loss and its gradient against T²·Σ p (log p − log q) over the
    // kept rows, written with log-softmax, at a temperature and with a mask.
    let rows = Tensor(mask.map { $0 ? 1 : 0 }, shape: [2, 3, 1])
    assertFusedMatchesComposite(
      [student], fused: { $0[0].klDivergence(teacherLogits: teacher, temperature: 2, rowMask: mask) },
      composite: { inputs in
        let p = teacher.scaled(by: 0.5).logSoftmax()
        let q = inputs[0].scaled(by: 0.5).logSoftmax()
        return (p - q).multiplying(p.exp()).multiplying(rows).sum().scaled(by: 2 * 2 / 4)  // T² over 4 kept rows
      })
  }

  func testKLDivergenceKeepsNoVocabularySizedIntermediates() {
    // [64, 4096] rows: the old composition kept four such tensors alive for the backward.
    var student = testValues([64, 4096], seed: 42, range: -3...3)
    student.requiresGrad = true
    let teacher = testValues([64, 4096], seed: 43, range: -3...3)
    let before = StorageStatistics.liveBytes
    let loss = student.klDivergence(teacherLogits: teacher, temperature: 2)
    let kept = StorageStatistics.liveBytes - before
    XCTAssertLessThan(kept, 64 * 4096 * 4 / 4, "the loss keeps \(kept) bytes beyond its inputs")
    loss.backward()
    XCTAssertEqual(student.grad?.shape, [64, 4096])
  }

  func testMSEAndCosine() {
    let a = testValues([3, 4], seed: 40)
    let b = testValues([3, 4], seed: 41)
    assertGradientsMatch([a, b]) { $0[0].meanSquaredError($0[1]) }
    assertGradientsMatch([a, b]) { $0[0].cosineSimilarity($0[1]) }
    XCTAssertEqual(Tensor([1, 2], shape: [1, 2]).cosineSimilarity(Tensor([2, 4], shape: [1, 2])).item(), 1, accuracy: 1e-6)
    XCTAssertEqual(Tensor([1, 2]).meanSquaredError(Tensor([3, 2])).item(), 2)
  }

  func testDropoutIsSeededAndScaled() {
    let x = Tensor.ones([1000])
    var g1 = SeededRandom(seed: 5), g2 = SeededRandom(seed: 5)
    let a = x.dropout(rate: 0.25, using: &g1), b = x.dropout(rate: 0.25, using: &g2)
    XCTAssertEqual(a.scalars, b.scalars)
    let kept = a.scalars.filter { $0 != 0 }
    XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    XCTAssertEqual(Double(kept.count) / 1000, 0.75, accuracy: 0.05)
    let input = testValues([4, 6], seed: 42)
    assertGradientsMatch([input]) { v in
      var generator = SeededRandom(seed: 9)
      return v[0].dropout(rate: 0.5, using: &generator)
    }
  }

  private func assertFusedMatchesComposite(
    _ inputs: [Tensor], fused: ([Tensor]) -> Tensor, composite: ([Tensor]) -> Tensor,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    var left = inputs, right = inputs
    for i in inputs.indices {
      left[i].requiresGrad = true
      right[i].requiresGrad = true
    }
    let f = fused(left), c = composite(right)
    assertClose(f, c, tolerance: 1e-5, file: file, line: line)
    let weights = testValues(f.shape, seed: 7)
    (f * weights).sum().backward()
    (c * weights).sum().backward()
    for i in inputs.indices {
      assertClose(left[i].grad!, right[i].grad!, tolerance: 1e-4, file: file, line: line)
    }
  }
}

