import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers

/// Teacher training with a pruning mask held fixed: the removed weights start
/// at zero, their gradients are zeroed before clipping and the optimizer (so
/// AdamW's moments for them stay zero and its update, weight decay included,
/// cannot move them), and they are zeroed again after every update.
final class MaskedTrainingObjective: TrainingObjective {
  let base: CrossEntropyObjective
  let masks: [String: WeightMask]
  let layers: [(key: String, layer: Linear)]

  init(_ base: CrossEntropyObjective, masks: [String: WeightMask]) throws {
    self.base = base
    self.masks = masks
    layers = LotteryTicket.targets(of: base.model)
    try WeightMaskFile.check(masks, fit: layers, source: "the mask")
    MagnitudeMasks.apply(masks, to: layers)
  }

  var kind: String { "masked-teacher" }
  var trainable: any ParameterContainer { base.trainable }
  var inputModel: any Seq2SeqModel { base.inputModel }
  var counters: [String: Int] {
    get { base.counters }
    set { base.counters = newValue }
  }

  func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss {
    let loss = base.loss(step: step, batch: batch)
    loss.backward()
    MagnitudeMasks.applyToGradients(masks, of: layers)
    return ObjectiveLoss(total: loss.total.detached(), metrics: loss.metrics, isBackpropagated: true)
  }

  func didUpdate(step: Int) { MagnitudeMasks.apply(masks, to: layers) }

  func validationLoss(_ batches: [Seq2SeqBatch]) -> Float? { base.validationLoss(batches) }
  func writeCheckpoint(into folder: URL) throws { try base.writeCheckpoint(into: folder) }

  func restoreCheckpoint(from folder: URL) throws {
    try base.restoreCheckpoint(from: folder)
    // A checkpoint whose removed weights are not zero was not written under this mask.
    for (key, linear) in layers {
      guard let mask = masks[key] else { continue }
      let revived = linear.weight.value.withValues { values in values.indices.contains { !mask.kept[$0] && values[$0] != 0 } }
      if revived {
        throw TrainingError(
          "\(folder.path): weight '\(key)' is non-zero where the mask removed it; the checkpoint is not of this mask")
      }
    }
  }
}

/// A round's mask on disk: one F32 tensor of 1 (kept) and 0 (removed) per target layer, by its weight's key.
enum WeightMaskFile {
  static func write(_ masks: [String: WeightMask], layers: [(key: String, layer: Linear)], to url: URL) throws {
    var tensors: [String: Tensor] = [:]
    for (key, linear) in layers {
      guard let mask = masks[key] else { continue }
      tensors[key + ".weight"] = Tensor(mask.kept.map { $0 ? 1 : 0 }, shape: linear.weight.shape)
    }
    try SafeTensorsFile(tensors: tensors).write(to: url)
  }

  /// The masks in `url`: each target layer's, of its weight's shape, holding only 0 and 1.
  static func read(from url: URL, layers: [(key: String, layer: Linear)]) throws -> [String: WeightMask] {
    let tensors = try SafeTensorsFile.read(from: url).tensors
    var masks: [String: WeightMask] = [:]
    for (key, linear) in layers {
      guard let tensor = tensors[key + ".weight"] else { throw ParameterLoadingError.missingKey(key + ".weight", source: url.path) }
      guard tensor.shape == linear.weight.shape else {
        throw ParameterLoadingError.shapeMismatch(
          key + ".weight", expected: linear.weight.shape, found: tensor.shape, source: url.path)
      }
      let values = tensor.scalars
      guard values.allSatisfy({ $0 == 0 || $0 == 1 }) else {
        throw ModelFolderError.invalidConfiguration(
          file: url.path, reason: "mask '\(key).weight' holds values other than 0 and 1")
      }
      masks[key] = WeightMask(kept: values.map { $0 == 1 })
    }
    if let extra = Set(tensors.keys).subtracting(layers.map { $0.key + ".weight" }).sorted().first {
      throw ParameterLoadingError.unexpectedKey(extra, source: url.path)
    }
    return masks
  }

  /// Every target layer has a mask of its weight's size, and no other layer has one.
  static func check(_ masks: [String: WeightMask], fit layers: [(key: String, layer: Linear)], source: String) throws {
    for (key, linear) in layers {
      guard let mask = masks[key] else { throw ParameterLoadingError.missingKey(key, source: source) }
      guard mask.kept.count == linear.weight.value.count else {
        throw TrainingError("\(source): the mask of '\(key)' has \(mask.kept.count) entries, its weight \(linear.weight.value.count)")
      }
    }
    if let extra = Set(masks.keys).subtracting(layers.map(\.key)).sorted().first {
      throw ParameterLoadingError.unexpectedKey(extra, source: source)
    }
  }
}
