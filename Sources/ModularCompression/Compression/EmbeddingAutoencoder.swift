import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// Direction-aware compression of a token embedding table `[V, C]` by a
/// linear autoencoder over its rows (each token's embedding one sample), as
/// Bałazy et al. (2021) describe it: encoder `C → k`, decoder `k → C`; kept
/// are the latents `[V, k]` and the decoder (with its bias). The loss per row
/// is `(0.9975/5)·(1 − cos(x̂, x)) + 0.0025·mean(|x̂ − x|^α)`, with α annealed
/// linearly from 1 at the first step to 0.1 at the last, so the distance term
/// moves from L1 towards counting how many coordinates are off at all.
/// Training (SVD start, Adam) is ``RowAutoencoder``'s.
public enum EmbeddingAutoencoder {
  public static let cosineWeight: Float = 0.9975 / 5
  public static let distanceWeight: Float = 0.0025
  /// α at the first and at the last step.
  public static let exponentStart: Float = 1, exponentEnd: Float = 0.1

  /// α at `step` of `steps`: linear from ``exponentStart`` at step 0 to
  /// ``exponentEnd`` at step `steps − 1` and after (with one step or none, α stays at the start).
  public static func exponent(step: Int, steps: Int) -> Float {
    guard steps > 1 else { return exponentStart }
    let fraction = Float(Swift.min(Swift.max(step, 0), steps - 1)) / Float(steps - 1)
    return exponentStart + (exponentEnd - exponentStart) * fraction
  }

  /// `(0.9975/5)·mean(1 − cos(x̂ᵢ, xᵢ)) + 0.0025·mean(|x̂ − x|^α)` over rows (and, inside, coordinates).
  public static func loss(_ reconstructed: Tensor, _ rows: Tensor, exponent: Float) -> Tensor {
    let cosine = RowAutoencoder.meanCosine(reconstructed, rows)
    let distance = (reconstructed - rows).absolutePower(exponent).mean()
    return (1 - cosine) * cosineWeight + distance * distanceWeight
  }

  /// Trains the autoencoder of width `rank` on `table` `[V, C]`; returns
  /// its factors and the final loss (at α = 0.1). `progress` hears of every step.
  public static func train(
    table: Tensor, rank: Int, settings: AutoencoderSettings, progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> (factors: EmbeddingFactors, loss: Float) {
    let trained = try RowAutoencoder.train(rows: table, latent: rank, settings: settings, progress: progress) { decoded, step in
      loss(decoded, table, exponent: exponent(step: step, steps: settings.steps))
    }
    let factors = EmbeddingFactors(
      latents: trained.latents, decoder: trained.decoder, method: EmbeddingCompressionMethod.autoencoder.rawValue)
    return (factors, trained.loss)
  }
}
