import Foundation
import NeuralLayers
import TensorCore

/// The training both row autoencoders share (a weight matrix's rows for
/// ``WeightAutoencoder``, a token table's for ``EmbeddingAutoencoder``): a
/// linear encoder `in → d` and decoder `d → in` (with bias) over the rows of
/// a matrix, full-batch Adam, the learning rate halved at 50% and again at
/// 75% of the steps. It starts from the rows' principal directions (the
/// SVD's right singular vectors), so training starts at the truncated SVD's
/// reconstruction and moves to what the objective prefers. With a `tanh`
/// decoder (the non-linear autoencoder) the decoder ends in tanh; the encoder
/// stays linear, since only the latents it gives are stored, and near zero
/// tanh is the identity, so the start is still about the SVD's.
public enum RowAutoencoder {
  /// Trains on `rows` `[N, in]` with `objective(decoded, step)` (the final
  /// loss is the objective at step `settings.steps`); returns the latents
  /// `[N, d]`, the decoder and that loss. `progress` hears of every step.
  static func train(
    rows: Tensor, latent: Int, settings: AutoencoderSettings, activation: RowDecoder.Activation = .linear,
    progress: (Int, Int) -> Void = { _, _ in }, objective: (_ decoded: Tensor, _ step: Int) -> Tensor
  ) throws -> (latents: Tensor, decoder: RowDecoder, loss: Float) {
    let width = rows.shape[1]
    let svd = try SingularValueDecomposition(rows)
    let basis = svd.vt.slice(axis: 0, 0..<Swift.min(latent, svd.s.count))  // [d', in]
    var padded = [Float](repeating: 0, count: latent * width)
    for (index, value) in basis.scalars.enumerated() { padded[index] = value }
    let directions = Tensor(padded, shape: [latent, width])
    let encoder = Linear(weight: Parameter(directions), bias: nil)
    let decoder = RowDecoder(
      linear: Linear(weight: Parameter(directions.transposed2D()), bias: Parameter(Tensor.zeros([width]))), activation: activation)
    let pair = AutoencoderPair(encoder: encoder, decoder: decoder.linear)
    let optimizer = AdamW(pair, configuration: AdamWConfiguration(learningRate: settings.learningRate, weightDecay: 0))
    for step in 0..<settings.steps {
      optimizer.zeroGrad()
      let loss = objective(decoder(encoder(rows)), step)
      guard loss.item().isFinite else { throw AutoencoderError.nonFiniteLoss(step: step) }
      loss.backward()
      let decay: Float = step >= settings.steps * 3 / 4 ? 0.25 : (step >= settings.steps / 2 ? 0.5 : 1)
      optimizer.update(learningRate: settings.learningRate * decay)
      progress(step + 1, settings.steps)
    }
    let latents = withoutGradient { encoder(rows) }
    let final = withoutGradient { objective(decoder(latents), settings.steps).item() }
    return (latents.detached(), decoder, final)
  }

  /// The mean over rows of `cos(x̂ᵢ, xᵢ)`.
  public static func meanCosine(_ reconstructed: Tensor, _ rows: Tensor) -> Tensor {
    let dot = (reconstructed * rows).sum(axis: 1)
    let norms = ((reconstructed * reconstructed).sum(axis: 1) * (rows * rows).sum(axis: 1)).shifted(by: 1e-12).sqrt()
    return (dot / norms).mean()
  }
}

/// The two layers an autoencoder trains, as one parameter container.
private final class AutoencoderPair: LayerTree {
  let encoder: Linear, decoder: Linear
  init(encoder: Linear, decoder: Linear) { (self.encoder, self.decoder) = (encoder, decoder) }
  var sublayers: [(key: String, layer: any ParameterContainer)] { [("encoder", encoder), ("decoder", decoder)] }
  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool { false }
}
