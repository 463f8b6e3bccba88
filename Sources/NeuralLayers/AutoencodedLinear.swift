import TensorCore

/// A linear layer stored by its own parameters rather than as one dense
/// weight (low-rank factors, autoencoder latents): a model folder keeps those
/// parameters, and `--dense` their product.
public protocol FactorisedLinearLayer: LinearLayer {}

extension LowRankLinear: FactorisedLinearLayer {}

/// The decoder of a weight autoencoder: a latent `[d]` to a weight row `[in]`,
/// by a linear map, optionally followed by tanh (the non-linear autoencoder).
/// Several layers may share one (autoencoders trained across layers).
public final class RowDecoder: LayerTree {
  /// What follows the linear map; its raw value is the folder's `decoder` field.
  public enum Activation: String, Sendable, CaseIterable, Codable {
    case linear, tanh
  }

  public let linear: Linear
  public let activation: Activation

  public init(linear: Linear, activation: Activation = .linear) {
    self.linear = linear
    self.activation = activation
  }

  public var latentWidth: Int { linear.inputSize }
  public var rowWidth: Int { linear.outputSize }

  /// Latents `[N, d]` to rows `[N, in]`.
  public func callAsFunction(_ latents: Tensor) -> Tensor {
    let rows = linear(latents)
    return activation == .tanh ? rows.tanh() : rows
  }

  public var sublayers: [(key: String, layer: any ParameterContainer)] { [("", linear)] }
  public func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}

/// A dense layer whose weight rows are stored as autoencoder latents
/// `[out, d]`, their norms `[out]` and a (possibly shared) decoder: row `i`
/// is `decoder(latents[i])`, rescaled to norm `row_norms[i]` (norm
/// enforcement). The weight is decoded once, on first use, then runs as a
/// dense layer; a layer that shares its decoder owns it only when
/// `ownsDecoder`, so a folder stores each decoder once.
public final class AutoencodedLinear: FactorisedLinearLayer {
  public let latents: Parameter
  public let rowNorms: Parameter
  public let bias: Parameter?
  public let decoder: RowDecoder
  public let ownsDecoder: Bool
  private var decoded: Linear?

  public init(latents: Parameter, rowNorms: Parameter, bias: Parameter?, decoder: RowDecoder, ownsDecoder: Bool) {
    precondition(latents.shape[1] == decoder.latentWidth && rowNorms.shape == [latents.shape[0]], "latents [out, d], norms [out]")
    self.latents = latents
    self.rowNorms = rowNorms
    self.bias = bias
    self.decoder = decoder
    self.ownsDecoder = ownsDecoder
  }

  public var inputSize: Int { decoder.rowWidth }
  public var outputSize: Int { latents.shape[0] }

  public func callAsFunction(_ x: Tensor) -> Tensor { dense()(x) }

  public func fused() -> Linear {
    Linear(weight: Parameter(dense().weight.value.detached()), bias: bias.map { Parameter($0.value.detached()) })
  }

  private func dense() -> Linear {
    if let decoded { return decoded }
    let weight = withoutGradient { AutoencodedLinear.decode(latents.value, decoder: decoder, rowNorms: rowNorms.value) }
    let layer = Linear(weight: Parameter(weight), bias: bias)
    layer.weight.isTrainable = false
    decoded = layer
    return layer
  }

  /// Rows `decoder(latents)` rescaled to `rowNorms` (a row that decodes to zero stays zero).
  public static func decode(_ latents: Tensor, decoder: RowDecoder, rowNorms: Tensor) -> Tensor {
    let rows = decoder(latents)
    let norms = (rows * rows).sum(axis: 1, keepDims: true).sqrt()
    let safe = norms.scalars.map { $0 > 0 ? $0 : 1 }
    return rows * (rowNorms.reshaped([-1, 1]) / Tensor(safe, shape: [safe.count, 1]))
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    [("latents", latents), ("row_norms", rowNorms)] + (bias.map { [("bias", $0)] } ?? [])
      + (ownsDecoder ? joinKeys("decoder", decoder.linear.namedParameters()) : [])
  }
}
