import Foundation
import Seq2SeqModels

/// How many layers of each stack a model of the teacher's shape keeps at a
/// ratio, and which: one rule for layer dropping and for every per-ratio
/// baseline student, so they are all compared with an assembly on equal terms.
///
/// **How many.** Of all pairs (encoder layers, decoder layers), each at least
/// 1, whose layer-parameter ratio reaches `R` (teacher layer parameters /
/// kept layer parameters ≥ R, up to 1e-9 relative rounding):
/// - `size-first`: the pair with the most layer parameters; among those,
///   compression spread most evenly over the two stacks (smallest
///   |log ρ_enc − log ρ_dec|), then more encoder layers. With equal layer
///   sizes this is `n/R` layers per stack when that is whole.
/// - `speed-first`: the decoder is cut first (it runs once per generated
///   token): the pair keeping the most encoder parameters, then the most
///   layer parameters — the same order as the assembly strategy of that name.
/// A ratio that even one layer per stack cannot reach is an error
/// (``LayerDroppingError``).
///
/// **Which.** A stack keeping `k` of its `n` layers keeps layers
/// `round(i·(n−1)/(k−1))` for `i = 0..<k`: evenly spaced, the first and the
/// last always among them (the first reads the embeddings, the last feeds the
/// final norm and, in the decoder, the output head). Keeping one layer keeps
/// layer 0. This is also the layer map of DistilBART's shrink-and-fine-tune.
public enum StudentShape {
  /// The layers of a stack of `depth` that keeping `count` of them keeps, ascending.
  public static func keptLayers(depth: Int, keeping count: Int) -> [Int] {
    guard count < depth else { return Array(0..<depth) }
    guard count > 1 else { return count == 1 ? [0] : [] }
    // round(i·(n−1)/(k−1)), half up, in integers; steps are ≥ 1, so no repeats.
    return (0..<count).map { (2 * $0 * (depth - 1) + (count - 1)) / (2 * (count - 1)) }
  }

  /// The layers kept at `ratio` under `strategy` (`size-first` or
  /// `speed-first`), as a plan of teacher layers (not a cover: the dropped
  /// layers are missing), so that ``LayerCosts/cost(of:sourceTokensPerGeneratedToken:)`` sizes it.
  public static func plan(costs: LayerCosts, ratio: Double, strategy: AssemblyStrategy = .sizeFirst) throws -> AssemblyPlan {
    guard ratio.isFinite, ratio >= 1 else { throw AssemblyError.invalidRatio(ratio) }
    guard strategy != .pareto else {
      throw AssemblyError.invalidPlan("a student's depths follow size-first or speed-first, not pareto")
    }
    let (e, d) = (costs.encoderDepth, costs.decoderDepth)
    // Parameters of the layers kept when keeping `count` of a stack's, from its own layer sizes.
    func kept(_ stack: StackRole, _ count: Int) -> Int {
      keptLayers(depth: costs.depth(stack), keeping: count).reduce(0) { $0 + costs.parameters(ofLayer: $1, in: stack) }
    }
    let limit = Double(costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9)
    func imbalance(_ ke: Int, _ kd: Int) -> Double {
      abs(log(Double(max(e, 1)) / Double(max(ke, 1))) - log(Double(max(d, 1)) / Double(max(kd, 1))))
    }
    // Lower is better, compared in turn.
    func keys(_ ke: Int, _ kd: Int) -> [Double] {
      let total = Double(kept(.encoder, ke) + kept(.decoder, kd))
      switch strategy {
      case .speedFirst: return [-Double(kept(.encoder, ke)), -total]
      default: return [-total, imbalance(ke, kd), -Double(ke)]
      }
    }
    var best: (ke: Int, kd: Int, keys: [Double])?
    for ke in min(e, 1)...e {
      for kd in min(d, 1)...d where Double(kept(.encoder, ke) + kept(.decoder, kd)) <= limit {
        let candidate = keys(ke, kd)
        if let current = best, !precedes(candidate, current.keys) { continue }
        best = (ke, kd, candidate)
      }
    }
    guard let best else {
      let fewest = kept(.encoder, min(e, 1)) + kept(.decoder, min(d, 1))
      throw LayerDroppingError.unreachableRatio(
        requested: ratio, maximum: fewest == 0 ? 1 : Double(costs.teacherLayerParameterTotal) / Double(fewest))
    }
    return AssemblyPlan(
      encoder: keptLayers(depth: e, keeping: best.ke).map { .teacher(layer: $0) },
      decoder: keptLayers(depth: d, keeping: best.kd).map { .teacher(layer: $0) })
  }

  /// Whether `a` comes before `b`, key by key, equal within rounding noise.
  static func precedes(_ a: [Double], _ b: [Double]) -> Bool {
    for (x, y) in zip(a, b) where abs(x - y) > 1e-9 * max(1, abs(x), abs(y)) { return x < y }
    return false
  }

  /// Per stack, the teacher layer each piece of `plan` starts from or stands
  /// for: a kept layer itself, a module the last layer of its span (whose
  /// output the module's output replaces).
  public static func layerMap(of plan: AssemblyPlan) -> (encoder: [Int], decoder: [Int]) {
    (plan.encoder.map { $0.layers.upperBound - 1 }, plan.decoder.map { $0.layers.upperBound - 1 })
  }
}
