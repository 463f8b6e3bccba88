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
public final class FeedForward: LayerTree {
  /// The projections; any ``LinearLayer`` of the same sizes can replace one.
  public var input: any LinearLayer
  public var gate: (any LinearLayer)?
  public var output: any LinearLayer
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

  public var sublayers: [(key: String, layer: any ParameterContainer)] {
    let layers: [any ParameterContainer] = (gate.map { [$0] } ?? []) + [input, output]
    return zip(names, layers).map { ($0, $1) }
  }

  public func replaceSublayer(_ name: String, with layer: any LinearLayer) -> Bool {
    guard let index = names.firstIndex(of: name) else { return false }
    // Without a gate the names start at the input projection.
    switch index + (gate == nil ? 1 : 0) {
    case 0: gate = layer
    case 1: input = layer
    default: output = layer
    }
    return true
  }
}
