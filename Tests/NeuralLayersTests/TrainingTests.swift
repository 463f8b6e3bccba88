import Foundation
import NeuralLayers
import TensorCore
import XCTest

/// A two-layer perceptron for the end-to-end check.
final class TinyMLP: ParameterContainer {
  let hidden: Linear
  let output: Linear

  init(seed: UInt64) {
    var generator = SeededRandom(seed: seed)
    hidden = Linear(inputSize: 2, outputSize: 32, using: &generator)
    output = Linear(inputSize: 32, outputSize: 2, using: &generator)
  }

  func callAsFunction(_ x: Tensor) -> Tensor { output(hidden(x).tanh()) }

  func namedParameters() -> [(key: String, parameter: Parameter)] {
    joinKeys("hidden", hidden.namedParameters()) + joinKeys("output", output.namedParameters())
  }
}

/// Points in [-1, 1]²; class 1 inside the circle of radius 0.6.
func circleProblem(count: Int, seed: UInt64) -> (Tensor, [Int]) {
  var generator = SeededRandom(seed: seed)
  var points: [Float] = [], labels: [Int] = []
  for _ in 0..<count {
    let x = generator.nextFloat() * 2 - 1
    let y = generator.nextFloat() * 2 - 1
    points += [x, y]
    labels.append(x * x + y * y < 0.36 ? 1 : 0)
  }
  return (Tensor(points, shape: [count, 2]), labels)
}

final class TrainingTests: XCTestCase {
  /// Autodiff + AdamW end to end: a seeded MLP learns a circle.
  func testMLPLearnsCircleWithAdamW() {
    let model = TinyMLP(seed: 7)
    let (inputs, labels) = circleProblem(count: 256, seed: 3)
    let optimizer = AdamW(model, configuration: AdamWConfiguration(learningRate: 0.03, weightDecay: 0.001))
    let initial = withoutGradient { model(inputs).crossEntropy(targets: labels).item() }
    var loss: Float = .infinity
    for _ in 0..<400 {
      optimizer.zeroGrad()
      let l = model(inputs).crossEntropy(targets: labels)
      l.backward()
      clipGradientNorm(optimizer.parameters, maxNorm: 5)
      optimizer.update()
      loss = l.item()
    }
    XCTAssertGreaterThan(initial, 0.5)
    XCTAssertLessThan(loss, 0.08, "the MLP should fit the circle; initial loss \(initial)")
    let predictions = withoutGradient { model(inputs).argmaxLastAxis() }
    let accuracy = Float(zip(predictions, labels).filter { $0 == $1 }.count) / Float(labels.count)
    XCTAssertGreaterThan(accuracy, 0.97)
  }

  /// One AdamW step against the update written out by hand.
  func testAdamWStepMatchesClosedForm() {
    let model = TinyMLP(seed: 1)
    let config = AdamWConfiguration(learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.5)
    let optimizer = AdamW(model, configuration: config)
    let weight = model.hidden.weight
    let before = weight.value.scalars
    let (inputs, labels) = circleProblem(count: 8, seed: 4)
    model(inputs).crossEntropy(targets: labels).backward()
    let g = weight.grad!.scalars
    optimizer.update()
    for i in 0..<before.count {
      // First step: m̂ = g, v̂ = g², so the step is lr · g / (|g| + ε).
      let expected = before[i] - 0.1 * 0.5 * before[i] - 0.1 * g[i] / (abs(g[i]) + 1e-8)
      XCTAssertEqual(weight.value.scalars[i], expected, accuracy: 1e-5)
    }
    // Biases are excluded from decay by default: the zero bias moves by lr·sign(g) only.
    let bias = model.hidden.bias!.value.scalars
    XCTAssertTrue(bias.allSatisfy { abs(abs($0) - 0.1) < 1e-4 || $0 == 0 })
  }

  func testOptimizerStateRoundTripResumesExactly() throws {
    let (inputs, labels) = circleProblem(count: 32, seed: 5)
    func train(_ model: TinyMLP, _ optimizer: AdamW, steps: Int) -> [Float] {
      (0..<steps).map { _ in
        optimizer.zeroGrad()
        let loss = model(inputs).crossEntropy(targets: labels)
        loss.backward()
        optimizer.update()
        return loss.item()
      }
    }
    let straight = TinyMLP(seed: 2)
    let straightOptimizer = AdamW(straight, configuration: AdamWConfiguration(learningRate: 0.01))
    let expected = train(straight, straightOptimizer, steps: 6)

    let first = TinyMLP(seed: 2)
    let firstOptimizer = AdamW(first, configuration: AdamWConfiguration(learningRate: 0.01))
    let head = train(first, firstOptimizer, steps: 3)
    let resumed = TinyMLP(seed: 99)
    try resumed.loadStateDictionary(first.stateDictionary())
    let resumedOptimizer = AdamW(resumed, configuration: AdamWConfiguration(learningRate: 0.01))
    try resumedOptimizer.loadState(firstOptimizer.state())
    XCTAssertEqual(resumedOptimizer.step, 3)
    let tail = train(resumed, resumedOptimizer, steps: 3)
    XCTAssertEqual(head + tail, expected)
  }

  func testStrictLoadingNamesTheKey() {
    let model = TinyMLP(seed: 1)
    var state = model.stateDictionary()
    state["hidden.extra"] = Tensor([1])
    XCTAssertThrowsError(try model.loadStateDictionary(state, source: "m.safetensors")) { error in
      XCTAssertEqual(String(describing: error), "m.safetensors: unexpected weight 'hidden.extra'")
    }
    state = model.stateDictionary()
    state["output.bias"] = nil
    XCTAssertThrowsError(try model.loadStateDictionary(state)) { error in
      XCTAssertEqual(error as? ParameterLoadingError, .missingKey("output.bias", source: "weights"))
    }
    state = model.stateDictionary()
    state["output.bias"] = Tensor([1, 2, 3])
    XCTAssertThrowsError(try model.loadStateDictionary(state)) { error in
      XCTAssertEqual(error as? ParameterLoadingError, .shapeMismatch("output.bias", expected: [2], found: [3], source: "weights"))
    }
    XCTAssertEqual(model.parameterCount, 2 * 32 + 32 + 32 * 2 + 2)
  }

  func testGradientClippingBoundsTheGlobalNorm() {
    let model = TinyMLP(seed: 3)
    let (inputs, labels) = circleProblem(count: 16, seed: 6)
    (model(inputs).crossEntropy(targets: labels) * 100).backward()
    let before = clipGradientNorm(model.parameters(), maxNorm: 0.5)
    XCTAssertGreaterThan(before, 0.5)
    let after = clipGradientNorm(model.parameters(), maxNorm: 1000)
    XCTAssertEqual(after, 0.5, accuracy: 1e-3)
  }

  func testLearningRateSchedules() throws {
    XCTAssertEqual(LearningRateSchedule.constant.rate(at: 50, base: 0.1), 0.1)
    let linear = LearningRateSchedule.linearWarmupDecay(warmup: 10, total: 110)
    XCTAssertEqual(linear.rate(at: 5, base: 1), 0.5, accuracy: 1e-6)
    XCTAssertEqual(linear.rate(at: 10, base: 1), 1, accuracy: 1e-6)
    XCTAssertEqual(linear.rate(at: 60, base: 1), 0.5, accuracy: 1e-6)
    XCTAssertEqual(linear.rate(at: 200, base: 1), 0)
    let inverse = LearningRateSchedule.inverseSquareRoot(warmup: 4)
    XCTAssertEqual(inverse.rate(at: 2, base: 1), 0.5, accuracy: 1e-6)
    XCTAssertEqual(inverse.rate(at: 16, base: 1), 0.5, accuracy: 1e-6)
    let decoded = try JSONDecoder().decode(LearningRateSchedule.self, from: Data(#"{"kind":"linear","warmup":3,"total":9}"#.utf8))
    XCTAssertEqual(decoded, .linearWarmupDecay(warmup: 3, total: 9))
    XCTAssertThrowsError(try JSONDecoder().decode(LearningRateSchedule.self, from: Data(#"{"kind":"cosine"}"#.utf8)))
    XCTAssertThrowsError(try JSONDecoder().decode(AdamWConfiguration.self, from: Data(#"{"beta1": 1.5}"#.utf8)))
  }

  func testTiedParametersAreCountedOnce() {
    var generator = SeededRandom(seed: 1)
    let embedding = Embedding(count: 10, width: 4, using: &generator)
    final class Tied: ParameterContainer {
      let embedding: Embedding
      let head: Linear
      init(_ embedding: Embedding) {
        self.embedding = embedding
        head = Linear(weight: embedding.weight)
      }
      func namedParameters() -> [(key: String, parameter: Parameter)] {
        joinKeys("shared", embedding.namedParameters()) + joinKeys("lm_head", head.namedParameters())
      }
    }
    let tied = Tied(embedding)
    XCTAssertEqual(tied.namedParameters().count, 2)
    XCTAssertEqual(tied.parameters().count, 1)
    XCTAssertEqual(tied.parameterCount, 40)
    let out = tied.head(tied.embedding([1, 2, 3], shape: [3]))
    XCTAssertEqual(out.shape, [3, 10])
  }
}
