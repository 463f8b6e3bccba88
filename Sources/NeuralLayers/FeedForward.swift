import TensorCore

/// The activation inside a feed-forward block, named as in `config.json`.
public enum FeedForwardActivation: String, Codable, Sendable {
  case relu
  case gelu
  /// The tanh approximation (`gelu_new`, T5 v1.1's gated GELU).
  case geluNew = "gelu_new"
  case silu

  public func apply(_ x: Tensor) -> Tensor {
    switch self {
    case .relu: x.relu()
    case .gelu: x.gelu()
    case .geluNew: x.gelu(approximation: .tanh)
    case .silu: x.silu()
    }
  }
}

/// Position-wise feed-forward: `out(act(in(x)))`, or the gated form
/// `out(act(gate(x)) ⊙ in(x))` (T5 v1.1).
public final class FeedForward: ParameterContainer {
  public let input: Linear
  public let gate: Linear?
  public let output: Linear
  public let activation: FeedForwardActivation
  /// Checkpoint names: `[in, out]` or `[gate, in, out]` when gated.
  public let names: [String]

  public init(
    modelWidth: Int, hiddenWidth: Int, activation: FeedForwardActivation, isGated: Bool, hasBias: Bool,
    names: [String], using generator: inout SeededRandom
  ) {
    precondition(names.count == (isGated ? 3 : 2), "feed-forward names do not match gating")
    gate = isGated ? Linear(inputSize: modelWidth, outputSize: hiddenWidth, hasBias: hasBias, using: &generator) : nil
    input = Linear(inputSize: modelWidth, outputSize: hiddenWidth, hasBias: hasBias, using: &generator)
    output = Linear(inputSize: hiddenWidth, outputSize: modelWidth, hasBias: hasBias, using: &generator)
    self.activation = activation
    self.names = names
  }

  /// The inner width (`d_ff`).
  public var hiddenWidth: Int { input.outputSize }

  /// `[…, C]` → `[…, C]`. `dropout` is applied to the inner activations.
  public func callAsFunction(_ x: Tensor, dropout: ((Tensor) -> Tensor)? = nil) -> Tensor {
    var inner: Tensor
    if let gate {
      inner = activation.apply(gate(x)) * input(x)
    } else {
      inner = activation.apply(input(x))
    }
    if let dropout { inner = dropout(inner) }
    return output(inner)
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    let layers = (gate.map { [$0] } ?? []) + [input, output]
    return zip(names, layers).flatMap { name, layer in joinKeys(name, layer.namedParameters()) }
  }
}
