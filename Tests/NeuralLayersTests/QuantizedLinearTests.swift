import NeuralLayers
import TensorCore
import XCTest

final class QuantizedLinearTests: XCTestCase {
  private func dense(inputs: Int, outputs: Int, bias: Bool, seed: UInt64 = 1) -> Linear {
    var generator = SeededRandom(seed: seed)
    let linear = Linear(inputSize: inputs, outputSize: outputs, hasBias: bias, using: &generator)
    if let b = linear.bias { b.value = Tensor.normal([outputs], std: 0.5, using: &generator) }
    return linear
  }

  /// Σ_c (x·127/max|x| rounded) · (w·127/max|w| rounded) · scales, in doubles: the product the kernels compute.
  private func reference(_ x: Tensor, _ layer: Linear) -> [Double] {
    let (k, n) = (layer.inputSize, layer.outputSize), m = x.count / k
    let w = layer.weight.value.scalars, input = x.scalars
    var out: [Double] = []
    for i in 0..<m {
      let row = Array(input[(i * k)..<((i + 1) * k)])
      let xMax = row.map(abs).max()!
      let xq = row.map { xMax > 0 ? ($0 * (127 / xMax)).rounded(.toNearestOrEven) : 0 }
      for j in 0..<n {
        let weights = Array(w[(j * k)..<((j + 1) * k)])
        let wMax = weights.map(abs).max()!
        let wq = weights.map { ($0 * (127 / wMax)).rounded(.toNearestOrEven) }
        let sum = zip(xq, wq).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        out.append(Double(xMax / 127) * Double(wMax / 127) * sum + Double(layer.bias?.value.scalars[j] ?? 0))
      }
    }
    return out
  }

  func testInt8ProductsMatchTheQuantizedReference() {
    var generator = SeededRandom(seed: 2)
    for (k, n, m, bias) in [(16, 5, 1, false), (70, 9, 3, true), (130, 33, 7, true)] {
      let layer = dense(inputs: k, outputs: n, bias: bias)
      let x = Tensor.normal([m, k], std: 1, using: &generator)
      let quantized = Int8Linear(quantizing: layer)
      let y = withoutGradient { quantized(x) }.scalars
      for (got, want) in zip(y, reference(x, layer)) { XCTAssertEqual(Double(got), want, accuracy: 1e-4 * max(1, abs(want)), "k \(k) n \(n)") }
      // And close to the fp32 layer: int8 keeps about two decimal digits of each product.
      let exact = withoutGradient { layer(x) }.scalars
      let error = zip(y, exact).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
      let norm = exact.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
      XCTAssertLessThan(error / norm, 0.03)
    }
  }

  func testInt8KeepsLeadingShapesAndRoundTripsItsStoredForm() throws {
    let layer = dense(inputs: 24, outputs: 6, bias: true)
    let quantized = Int8Linear(quantizing: layer)
    var generator = SeededRandom(seed: 3)
    let x = Tensor.normal([2, 3, 24], std: 1, using: &generator)
    XCTAssertEqual(withoutGradient { quantized(x) }.shape, [2, 3, 6])
    let stored = Dictionary(uniqueKeysWithValues: quantized.storedWeights().map { ($0.key, $0) })
    XCTAssertEqual(stored["weight"]?.dtype, .int8)
    XCTAssertEqual(stored["weight_scale"]?.tensor.shape, [6])
    let again = try Int8Linear(values: stored["weight"]!.tensor, scales: stored["weight_scale"]!.tensor, bias: quantized.bias, key: "q")
    XCTAssertEqual(withoutGradient { again(x) }.scalars, withoutGradient { quantized(x) }.scalars)
    // The dequantized weights are within half a step of the originals.
    let w = layer.weight.value.scalars, d = quantized.dequantizedWeight().scalars, scales = stored["weight_scale"]!.tensor.scalars
    for (index, (a, b)) in zip(w, d).enumerated() { XCTAssertLessThanOrEqual(abs(a - b), scales[index / 24] / 2 + 1e-7) }
  }

  func testStoredValuesOutsideInt8OrBadScalesAreRefusedByKey() {
    let scales = Tensor([0.1, 0.1], shape: [2])
    for (values, reason) in [([1, 2.5, 3, 4], "2.5"), ([1, 200, 3, 4], "200"), ([1, .nan, 3, 4], "nan")] as [([Float], String)] {
      XCTAssertThrowsError(try Int8Linear(values: Tensor(values, shape: [2, 2]), scales: scales, bias: nil, key: "enc.q")) { error in
        XCTAssertTrue("\(error)".contains("enc.q.weight"), "\(error)")
        XCTAssertTrue("\(error)".lowercased().contains(reason), "\(error)")
      }
    }
    XCTAssertThrowsError(try Int8Linear(values: Tensor([1, 2, 3, 4], shape: [2, 2]), scales: Tensor([0.1, -1], shape: [2]), bias: nil, key: "k")) {
      XCTAssertTrue("\($0)".contains("k.weight_scale"), "\($0)")
    }
    XCTAssertThrowsError(try Int8Linear(values: Tensor([1, 2, 3, 4], shape: [2, 2]), scales: Tensor([0.1], shape: [1]), bias: nil, key: "k"))
  }

  func testBF16ProductsUseTheRoundedWeightsInFP32() {
    let layer = dense(inputs: 37, outputs: 11, bias: true)
    let quantized = BF16Linear(quantizing: layer)
    var generator = SeededRandom(seed: 4)
    let x = Tensor.normal([5, 37], std: 1, using: &generator)
    let rounded = Linear(weight: Parameter(Tensor(layer.weight.value.scalars.map { Float(bfloat16Bits: $0.bfloat16Bits) }, shape: [11, 37])), bias: layer.bias)
    let want = withoutGradient { rounded(x) }.scalars, got = withoutGradient { quantized(x) }.scalars
    for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
    XCTAssertEqual(quantized.storedWeights().first?.dtype, .bfloat16)
    XCTAssertEqual(quantized.fused().weight.value.scalars, rounded.weight.value.scalars)
  }

  func testGradientsReachTheInputsThroughTheDequantizedWeights() {
    let layer = dense(inputs: 20, outputs: 7, bias: true)
    for quantized in [Int8Linear(quantizing: layer), BF16Linear(quantizing: layer)] as [any QuantizedLinearLayer] {
      var generator = SeededRandom(seed: 5)
      var x = Tensor.normal([3, 20], std: 1, using: &generator)
      x.requiresGrad = true
      quantized(x).sum().backward()
      let fused = quantized.fused()
      var y = x.detached()
      y.requiresGrad = true
      fused(y).sum().backward()
      XCTAssertEqual(x.grad!.scalars, y.grad!.scalars)
      let bias = quantized.bias
      XCTAssertEqual(bias?.grad?.scalars, fused.bias?.grad?.scalars)
      XCTAssertNotNil(bias?.grad)
    }
  }
}
