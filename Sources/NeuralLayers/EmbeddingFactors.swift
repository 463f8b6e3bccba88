import TensorCore

/// An embedding table `[V, C]` stored as latents `[V, k]` and a linear
/// decoder `k → C` (weight `[C, k]`, optional bias): row `i` is
/// `decoder(latents[i])`. The table is decoded once, when the factors are
/// made or read, and the model then runs on that plain table (lookups and a
/// tied head alike).
public struct EmbeddingFactors {
  public let latents: Tensor
  public let decoder: RowDecoder
  /// How the factors were found, as the folder's section names it (`autoencoder`, `svd`).
  public let method: String
  /// `decoder(latents)`: the table the model runs on.
  public let table: Tensor

  public init(latents: Tensor, decoder: RowDecoder, method: String) {
    precondition(latents.rank == 2 && latents.shape[1] == decoder.latentWidth, "latents [V, k] for a decoder k → C")
    self.latents = latents.detached()
    self.decoder = decoder
    self.method = method
    table = withoutGradient { decoder(latents) }.detached()
  }

  public var rank: Int { decoder.latentWidth }
  public var hasBias: Bool { decoder.linear.bias != nil }
  /// Floats stored: latents, decoder and its bias.
  public var storedCount: Int { latents.count + decoder.linear.weight.value.count + (decoder.linear.bias?.value.count ?? 0) }

  /// The stored tensors by name under the embedding's key: `latents`, `decoder.weight`, `decoder.bias`.
  public var namedTensors: [(key: String, tensor: Tensor)] {
    [("latents", latents)] + decoder.linear.namedParameters().map { ("decoder." + $0.key, $0.parameter.value.detached()) }
  }
}

extension Embedding {
  /// Makes `factors` the stored form of this table and the table their decoding.
  public func setFactors(_ factors: EmbeddingFactors) {
    precondition(factors.table.shape == weight.shape, "factors decode to \(factors.table.shape), the table is \(weight.shape)")
    weight.value = factors.table
    self.factors = factors
  }

  /// The factors, while the table is still exactly their decoding (nil once
  /// anything changed it, such as training: the table is then stored as it is).
  public var storedFactors: EmbeddingFactors? {
    guard let factors, factors.table.shape == weight.shape, factors.table.scalars == weight.value.scalars else { return nil }
    return factors
  }
}
