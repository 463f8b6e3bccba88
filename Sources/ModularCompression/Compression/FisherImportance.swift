import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// Fisher information of linear layers' weights, estimated on calibration
/// data the way Fisher-weighted SVD uses it: the squared gradients of the
/// cross-entropy, summed over batches and over each output row's weights.
public enum FisherImportance {
  /// For each of `layers` (dense layers of `model` with their keys), one
  /// value per output row, by key. The model's weights are not changed;
  /// gradients are cleared afterwards.
  public static func rowImportance(
    of model: any Seq2SeqModel, layers targets: [(key: String, layer: Linear)], data: TokenizedExamples,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> [String: [Float]] {
    var sums = Dictionary(uniqueKeysWithValues: targets.map { ($0.0, [Double](repeating: 0, count: $0.1.outputSize)) })
    let batches = data.orderedBatches(tokenBudget: 2048, tokens: model.specialTokens)
    defer { model.zeroGrad() }
    for (done, batch) in batches.enumerated() {
      model.zeroGrad()
      let loss = model.loss(logits: model.forward(batch), batch: batch)
      guard loss.item().isFinite else { throw FisherError.nonFiniteLoss(batch: done) }
      loss.backward()
      for (key, linear) in targets {
        guard let gradient = linear.weight.grad else { continue }
        let (rows, columns) = (linear.outputSize, linear.inputSize)
        gradient.withValues { g in
          for row in 0..<rows {
            var total = 0.0
            for column in 0..<columns { total += Double(g[row * columns + column] * g[row * columns + column]) }
            sums[key]![row] += total
          }
        }
      }
      progress(done + 1, batches.count)
    }
    return sums.mapValues { $0.map { Float($0) } }
  }
}

/// Calibration that cannot give an importance.
public enum FisherError: Error, CustomStringConvertible, Equatable {
  case nonFiniteLoss(batch: Int)
  case noExamples

  public var description: String {
    switch self {
    case .nonFiniteLoss(let batch): "calibration batch \(batch) has a loss that is not a finite number"
    case .noExamples: "Fisher-weighted SVD needs calibration examples (--calibration N with --task or --data)"
    }
  }
}
