import NeuralLayers
import TensorCore

/// Which weights of each layer are kept (`true`) after magnitude pruning, in
/// the weight's row-major order.
public struct WeightMask: Equatable, Sendable {
  public let kept: [Bool]

  public init(kept: [Bool]) { self.kept = kept }

  /// A mask that keeps all `count` weights.
  public init(keepingAll count: Int) { kept = Array(repeating: true, count: count) }

  public var keptCount: Int { kept.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Where the magnitude threshold is drawn.
public enum PruningScope: String, Sendable, CaseIterable, Codable {
  /// One threshold over every target layer's weights: layers whose weights
  /// are small lose more of them.
  case global
  /// Each layer loses the same share of its weights.
  case layer
}

/// Unstructured magnitude pruning: the masks that remove the smallest
/// weights by absolute value, and zeroing the weights a mask removes. The
/// one definition `tessera prune` and the lottery-ticket rounds share.
public enum MagnitudeMasks {
  /// Masks for `layers` that remove `fraction` (0…1) of the weights each
  /// still keeps under `current` (all weights where `current` has no mask),
  /// smallest magnitudes first. Ties at the threshold go in key order, then
  /// index order, so a mask is a pure function of the weights.
  public static func masks(
    for layers: [(key: String, layer: Linear)], removing fraction: Double, scope: PruningScope,
    current: [String: WeightMask] = [:]
  ) -> [String: WeightMask] {
    precondition(fraction >= 0 && fraction <= 1, "the pruned fraction must lie in 0…1")
    let candidates = layers.map { entry -> (key: String, magnitudes: [Float], kept: [Bool]) in
      let magnitudes = entry.layer.weight.value.scalars.map { abs($0) }
      let kept = current[entry.key]?.kept ?? Array(repeating: true, count: magnitudes.count)
      precondition(kept.count == magnitudes.count, "the mask of \(entry.key) does not fit its weight")
      return (entry.key, magnitudes, kept)
    }
    var result: [String: WeightMask] = [:]
    switch scope {
    case .layer:
      for candidate in candidates {
        result[candidate.key] = WeightMask(kept: pruned([candidate.magnitudes], kept: [candidate.kept], fraction: fraction)[0])
      }
    case .global:
      let masks = pruned(candidates.map(\.magnitudes), kept: candidates.map(\.kept), fraction: fraction)
      for (candidate, mask) in zip(candidates, masks) { result[candidate.key] = WeightMask(kept: mask) }
    }
    return result
  }

  /// Sets every weight a mask removes to zero (a layer without a mask is left alone).
  public static func apply(_ masks: [String: WeightMask], to layers: [(key: String, layer: Linear)]) {
    for (key, linear) in layers {
      guard let mask = masks[key] else { continue }
      var weight = linear.weight.value.detached()
      precondition(mask.kept.count == weight.count, "the mask of \(key) does not fit its weight")
      weight.withMutableValues { values in
        for index in values.indices where !mask.kept[index] { values[index] = 0 }
      }
      linear.weight.value = weight
    }
  }

  /// Zeroes the gradient of every weight a mask removes, so that clipping,
  /// the optimizer's moments and its update see the kept weights only.
  public static func applyToGradients(_ masks: [String: WeightMask], of layers: [(key: String, layer: Linear)]) {
    for (key, linear) in layers {
      guard let mask = masks[key], let gradient = linear.weight.grad else { continue }
      precondition(mask.kept.count == gradient.count, "the mask of \(key) does not fit its gradient")
      var masked = gradient.detached()
      masked.withMutableValues { values in
        for index in values.indices where !mask.kept[index] { values[index] = 0 }
      }
      linear.weight.value.setGrad(masked)
    }
  }

  /// The kept flags after removing `fraction` of the kept entries of all
  /// `groups` together, the smallest first.
  private static func pruned(_ groups: [[Float]], kept: [[Bool]], fraction: Double) -> [[Bool]] {
    var order: [(magnitude: Float, group: Int, index: Int)] = []
    for (group, magnitudes) in groups.enumerated() {
      for (index, magnitude) in magnitudes.enumerated() where kept[group][index] { order.append((magnitude, group, index)) }
    }
    let removed = Int((Double(order.count) * fraction).rounded())
    // A NaN weight sorts as the largest: it is never what a threshold removes first.
    order.sort { a, b in
      let (x, y) = (a.magnitude.isNaN ? Float.infinity : a.magnitude, b.magnitude.isNaN ? Float.infinity : b.magnitude)
      return x != y ? x < y : (a.group, a.index) < (b.group, b.index)
    }
    var result = kept
    for entry in order.prefix(removed) { result[entry.group][entry.index] = false }
    return result
  }
}
