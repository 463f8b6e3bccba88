import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// How `compress --method ae|ae-shared` trains its weight autoencoders.
public struct AutoencoderSettings: Sendable, Equatable {
  /// Full-batch Adam steps per autoencoder.
  public var steps: Int
  /// Adam's learning rate, halved at 50% and again at 75% of the steps.
  public var learningRate: Float
  public var seed: UInt64
  /// Weight autoencoders: `tanh` for the non-linear one (its decoder ends in
  /// tanh). Embedding autoencoders are always linear and ignore it.
  public var decoder: RowDecoder.Activation

  public init(steps: Int = 1000, learningRate: Float = 1e-3, seed: UInt64 = 0, decoder: RowDecoder.Activation = .linear) {
    self.steps = steps
    self.learningRate = learningRate
    self.seed = seed
    self.decoder = decoder
  }
}

/// Offline compression of weight matrices by autoencoders over their rows
/// (each row of `W` `[out, in]` one sample): a linear encoder to a latent of
/// width d, a linear decoder back, trained on `0.9091·(1 − cos) + 0.0909·RMSE`
/// with norm enforcement (each decoded row rescaled to its original norm,
/// which is stored); kept are the latents, the norms and the decoder. With
/// `shared`, the same matrix type of every block (all encoder queries, …)
/// trains one autoencoder together and stores one decoder: the layers share
/// a basis, so at the same stored size the latents can be wider.
///
/// Training is ``RowAutoencoder``'s: it starts from the principal directions
/// of the rows (the SVD's reconstruction) and moves to what the loss prefers.
public enum WeightAutoencoder {
  /// The weight of the cosine term; the RMSE term has `1 − cosineWeight`.
  public static let cosineWeight: Float = 0.9091

  /// `0.9091·mean(1 − cos(x̂ᵢ, xᵢ)) + 0.0909·√mean((x̂ − x)²)` over rows.
  public static func loss(_ reconstructed: Tensor, _ rows: Tensor) -> Tensor {
    let cosine = RowAutoencoder.meanCosine(reconstructed, rows)
    let difference = reconstructed - rows
    let rmse = (difference * difference).mean().shifted(by: 1e-12).sqrt()
    return (1 - cosine) * cosineWeight + rmse * (1 - cosineWeight)
  }

  /// `rows` rescaled to `norms` `[N]` (norm enforcement).
  public static func enforcingNorms(_ rows: Tensor, to norms: Tensor) -> Tensor {
    let current = (rows * rows).sum(axis: 1, keepDims: true).shifted(by: 1e-12).sqrt()
    return rows * (norms.reshaped([-1, 1]) / current)
  }

  /// The latent width that stores about `1 / ratio` of `rows × width`
  /// weights: latents and a norm per row, a decoder `width × d` plus bias once.
  public static func latentWidth(rows: Int, width: Int, ratio: Double) -> Int {
    let budget = Double(rows * width) / ratio - Double(rows + width)
    return Swift.max(1, Int(budget / Double(rows + width)))
  }

  /// Trains an autoencoder of latent width `latent` on `rows` `[N, in]`
  /// (norm-enforced decoding, ``loss(_:_:)``); returns the latents `[N, d]`,
  /// the decoder and the final loss.
  public static func train(rows: Tensor, latent: Int, settings: AutoencoderSettings) throws -> (latents: Tensor, decoder: RowDecoder, loss: Float) {
    let norms = (rows * rows).sum(axis: 1).sqrt()
    return try RowAutoencoder.train(rows: rows, latent: latent, settings: settings, activation: settings.decoder) { decoded, _ in
      loss(enforcingNorms(decoded, to: norms), rows)
    }
  }

  /// Replaces the target layers of `model` by autoencoded ones (each alone,
  /// or with `shared` one autoencoder per matrix type), each group sized to
  /// store about `1 / ratio` of its weights; returns the groups.
  @discardableResult
  public static func compress(
    _ model: any Seq2SeqModel, ratio: Double, targets: Set<CompressionTarget>, shared: Bool, settings: AutoencoderSettings,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> [(keys: [String], latentWidth: Int, loss: Float)] {
    let layers = LowRankCompression.targetLayers(of: model, targets: targets)
    var groups: [[(key: String, layer: Linear)]] = []
    if shared {
      var byType: [String: Int] = [:]
      for entry in layers {
        let type = "\(matrixType(of: entry.key)) \(entry.layer.inputSize)"
        if let index = byType[type] { groups[index].append(entry) } else { byType[type] = groups.count; groups.append([entry]) }
      }
    } else {
      groups = layers.map { [$0] }
    }
    var result: [(keys: [String], latentWidth: Int, loss: Float)] = []
    for (done, group) in groups.enumerated() {
      let linears = group.map(\.layer)
      let rows = Tensor.concat(linears.map { $0.weight.value.detached() }, axis: 0)
      let width = rows.shape[1]
      let latent = latentWidth(rows: rows.shape[0], width: width, ratio: ratio)
      let trained = try train(rows: rows, latent: latent, settings: settings)
      let decoder = trained.decoder
      let norms = (rows * rows).sum(axis: 1).sqrt()
      var start = 0
      for (index, (key, linear)) in group.enumerated() {
        let count = linear.outputSize
        let layer = AutoencodedLinear(
          latents: Parameter(trained.latents.slice(axis: 0, start..<(start + count))),
          rowNorms: Parameter(norms.slice(axis: 0, start..<(start + count))), bias: linear.bias, decoder: decoder,
          ownsDecoder: index == 0)
        try LinearLayers.replace(at: key, in: model, with: layer)
        start += count
      }
      result.append((group.map(\.key), latent, trained.loss))
      progress(done + 1, groups.count)
    }
    return result
  }

  /// A layer's key without its block number: the matrix type shared across blocks.
  static func matrixType(of key: String) -> String {
    key.replacingOccurrences(of: #"\.(block|layers)\.[0-9]+\."#, with: ".", options: .regularExpression)
  }
}

/// An autoencoder that cannot be trained.
public enum AutoencoderError: Error, CustomStringConvertible, Equatable {
  case nonFiniteLoss(step: Int)

  public var description: String {
    switch self {
    case .nonFiniteLoss(let step): "weight autoencoder: the loss is not a finite number at step \(step)"
    }
  }
}
