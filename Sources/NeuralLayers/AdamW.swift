import TensorCore

/// Settings of ``AdamW``; Codable with snake_case keys for recipes.
public struct AdamWConfiguration: Codable, Sendable, Equatable {
  public var learningRate: Float = 1e-3
  public var beta1: Float = 0.9
  public var beta2: Float = 0.999
  public var epsilon: Float = 1e-8
  public var weightDecay: Float = 0.01

  public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  enum CodingKeys: String, CodingKey {
    case learningRate = "learning_rate", beta1 = "beta1", beta2 = "beta2", epsilon = "epsilon"
    case weightDecay = "weight_decay"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? 1e-3
    beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? 0.9
    beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? 0.999
    epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-8
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? 0.01
    for (value, key) in [(beta1, CodingKeys.beta1), (beta2, .beta2)] where !(0..<1).contains(value) {
      throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be in [0, 1), got \(value)")
    }
    guard learningRate > 0 else {
      throw DecodingError.dataCorruptedError(forKey: .learningRate, in: c, debugDescription: "must be positive, got \(learningRate)")
    }
  }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter) and bias correction:
/// `p ← p − lr·wd·p`, then `p ← p − lr · m̂ / (√v̂ + ε)`.
public final class AdamW {
  public var configuration: AdamWConfiguration
  /// Updates taken so far (the bias-correction step).
  public private(set) var step = 0
  private let named: [(key: String, parameter: Parameter)]
  private var firstMoments: [String: Tensor] = [:]
  private var secondMoments: [String: Tensor] = [:]
  /// Keys that receive no weight decay (biases and norm scales by default).
  private let decays: [String: Bool]

  public init(
    _ container: ParameterContainer, configuration: AdamWConfiguration,
    excludeFromDecay: (String) -> Bool = AdamW.isBiasOrNorm
  ) {
    self.configuration = configuration
    named = container.uniqueNamedParameters().filter { $0.parameter.isTrainable }
    decays = Dictionary(uniqueKeysWithValues: named.map { ($0.key, !excludeFromDecay($0.key)) })
  }

  /// Default decay exclusion: biases and normalisation weights.
  public static func isBiasOrNorm(_ key: String) -> Bool {
    key.hasSuffix("bias") || key.lowercased().contains("norm")
  }

  /// The trainable parameters this optimizer updates.
  public var parameters: [Parameter] { named.map(\.parameter) }

  /// The same parameters with their key paths, for errors that name one.
  public var namedParameters: [(key: String, parameter: Parameter)] { named }

  /// Takes one update with the current gradients, at `learningRate` if given
  /// (a schedule's value) or the configured rate. Parameters without a
  /// gradient are left alone.
  public func update(learningRate: Float? = nil) {
    step += 1
    let lr = learningRate ?? configuration.learningRate
    let (b1, b2, eps) = (configuration.beta1, configuration.beta2, configuration.epsilon)
    let correction1 = 1 - Float(_pow(Double(b1), Double(step)))
    let correction2 = 1 - Float(_pow(Double(b2), Double(step)))
    for (key, parameter) in named {
      guard let grad = parameter.grad else { continue }
      // Taken out of the dictionaries so the update runs in place, not on a copy.
      var m = firstMoments.removeValue(forKey: key) ?? Tensor.zeros(parameter.shape)
      var v = secondMoments.removeValue(forKey: key) ?? Tensor.zeros(parameter.shape)
      let decay = decays[key] == true ? lr * configuration.weightDecay : 0
      let update = AdamWStep(
        learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, decay: decay, correction1: correction1,
        correction2: correction2)
      parameter.value.applyAdamW(update, gradient: grad, firstMoment: &m, secondMoment: &v)
      firstMoments[key] = m
      secondMoments[key] = v
    }
  }

  /// Clears the gradients of every parameter it updates.
  public func zeroGrad() { named.forEach { $0.parameter.zeroGrad() } }

  /// Moments and step as tensors (`m.KEY`, `v.KEY`, `step`), for checkpoints.
  public func state() -> [String: Tensor] {
    var state = ["step": Tensor(scalar: Float(step))]
    for (key, value) in firstMoments { state["m." + key] = value }
    for (key, value) in secondMoments { state["v." + key] = value }
    return state
  }

  /// Restores ``state()``; moments of unknown parameters or of the wrong
  /// shape are errors naming the key.
  public func loadState(_ state: [String: Tensor], source: String = "optimizer state") throws {
    guard let stepTensor = state["step"], stepTensor.count == 1 else {
      throw ParameterLoadingError.missingKey("step", source: source)
    }
    let shapes = Dictionary(uniqueKeysWithValues: named.map { ($0.key, $0.parameter.shape) })
    var first: [String: Tensor] = [:], second: [String: Tensor] = [:]
    for (name, tensor) in state where name != "step" {
      let isFirst = name.hasPrefix("m."), isSecond = name.hasPrefix("v.")
      let key = String(name.dropFirst(2))
      guard isFirst || isSecond, let shape = shapes[key] else {
        throw ParameterLoadingError.unexpectedKey(name, source: source)
      }
      guard tensor.shape == shape else {
        throw ParameterLoadingError.shapeMismatch(name, expected: shape, found: tensor.shape, source: source)
      }
      if isFirst { first[key] = tensor } else { second[key] = tensor }
    }
    step = Int(stepTensor.item())
    firstMoments = first
    secondMoments = second
  }
}

import Foundation
@inline(__always) private func _pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
