import NeuralLayers
import TensorCore

/// `tessera prune --method magnitude`: unstructured pruning of a model's
/// block layers with ``MagnitudeMasks``, the pruned layers marked to be stored sparse.
public enum MagnitudePruning {
  /// Zeroes `sparsity` (0…1) of the weights of the dense target layers (of
  /// all of them together, or of each, by `scope`), smallest magnitudes
  /// first, and marks those layers ``Linear/storesSparse``. Weights already
  /// zero (a pruned folder's) are the smallest, so they stay removed and
  /// count towards the share. Returns the masks by layer key.
  @discardableResult
  public static func prune(
    _ model: any Seq2SeqModel, sparsity: Double, scope: PruningScope, targets: Set<CompressionTarget>
  ) -> [String: WeightMask] {
    let layers = LowRankCompression.targetLayers(of: model, targets: targets)
    let masks = MagnitudeMasks.masks(for: layers, removing: sparsity, scope: scope)
    MagnitudeMasks.apply(masks, to: layers)
    for (_, linear) in layers { linear.storesSparse = true }
    return masks
  }

  /// The share of zero weights in `layers`.
  public static func sparsity(of layers: [(key: String, layer: Linear)]) -> Double {
    let total = layers.reduce(0) { $0 + $1.layer.weight.value.count }
    let zeros = layers.reduce(0) { count, entry in count + entry.layer.weight.value.scalars.filter { $0 == 0 }.count }
    return total == 0 ? 0 : Double(zeros) / Double(total)
  }
}
