import Foundation
import Seq2SeqModels

/// The floor modules must beat: the teacher with evenly spaced layers kept
/// and the rest dropped, no training.
///
/// **Which layers.** A stack keeping `k` of its `n` layers keeps layers
/// `round(i·(n−1)/(k−1))` for `i = 0..<k`: evenly spaced, the first and the
/// last always among them (the first reads the embeddings, the last feeds the
/// final norm and, in the decoder, the output head). Keeping one layer keeps
/// layer 0.
///
/// **How many.** The same budget rule as the `size-first` strategy, so a
/// dropped model and an assembly at one ratio `R` are compared on equal
/// terms: of all pairs (encoder layers kept, decoder layers kept), each at
/// least 1, the one whose layer-parameter ratio reaches `R` with the most
/// layer parameters; among those, compression spread most evenly over the
/// two stacks (smallest |log ρ_enc − log ρ_dec|); then more encoder layers
/// (the decoder runs once per generated token). With equal layer sizes this
/// is `n/R` layers per stack when that is whole. A ratio that even one layer
/// per stack cannot reach is an error (``LayerDroppingError``).
///
/// T5's relative-position bias lives on the stack, not in layer 0, so
/// dropping layer 0's neighbours (or keeping any subset) keeps it.
public enum LayerDropping {
  /// The layers of a stack of `depth` that keeping `count` of them keeps, ascending.
  public static func keptLayers(depth: Int, keeping count: Int) -> [Int] {
    guard count < depth else { return Array(0..<depth) }
    guard count > 1 else { return count == 1 ? [0] : [] }
    // round(i·(n−1)/(k−1)), half up, in integers; steps are ≥ 1, so no repeats.
    return (0..<count).map { (2 * $0 * (depth - 1) + (count - 1)) / (2 * (count - 1)) }
  }

  /// The layers kept at layer-parameter ratio `ratio`, as a plan of teacher
  /// layers (not a cover: the dropped layers are missing), so that
  /// ``LayerCosts/cost(of:sourceTokensPerGeneratedToken:)`` sizes it.
  public static func plan(costs: LayerCosts, ratio: Double) throws -> AssemblyPlan {
    guard ratio.isFinite, ratio >= 1 else { throw AssemblyError.invalidRatio(ratio) }
    let (e, d) = (costs.encoderDepth, costs.decoderDepth)
    // Parameters of the layers kept when keeping `count` of a stack's, from its own layer sizes.
    func kept(_ stack: StackRole, _ count: Int) -> Int {
      keptLayers(depth: costs.depth(stack), keeping: count).reduce(0) { $0 + costs.parameters(ofLayer: $1, in: stack) }
    }
    let limit = Double(costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9)
    func imbalance(_ ke: Int, _ kd: Int) -> Double {
      abs(log(Double(max(e, 1)) / Double(max(ke, 1))) - log(Double(max(d, 1)) / Double(max(kd, 1))))
    }
    var best: (ke: Int, kd: Int, parameters: Int)?
    for ke in min(e, 1)...e {
      for kd in min(d, 1)...d {
        let parameters = kept(.encoder, ke) + kept(.decoder, kd)
        guard Double(parameters) <= limit else { continue }
        if let current = best {
          // More parameters, then more even, then more encoder layers.
          if parameters != current.parameters {
            guard parameters > current.parameters else { continue }
          } else {
            let (a, b) = (imbalance(ke, kd), imbalance(current.ke, current.kd))
            guard abs(a - b) > 1e-12 ? a < b : ke > current.ke else { continue }
          }
        }
        best = (ke, kd, parameters)
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

  /// A copy of `teacher` that keeps only the layers of `plan` (a plan of
  /// teacher layers, as ``plan(costs:ratio:)`` makes). The teacher is unchanged.
  public static func apply(_ plan: AssemblyPlan, to teacher: any Seq2SeqModel) throws -> any Seq2SeqModel {
    let model = try ModelLoading.makeModel(configuration: teacher.configurationJSON(), source: "teacher configuration")
    try model.loadStateDictionary(teacher.stateDictionary(), source: "teacher weights")
    for stack in [model.encoder, model.decoder] {
      let layers = stack.blocks
      stack.blocks = try plan.pieces(stack.role).map { piece in
        guard case .teacher(let layer) = piece, layers.indices.contains(layer) else {
          throw AssemblyError.invalidPlan("layer dropping keeps teacher layers only; \(stack.role.rawValue) has \(piece)")
        }
        return layers[layer]
      }
    }
    return model
  }

  /// The dropped model at layer-parameter ratio `ratio`, with its kept layers and sizes.
  public static func apply(to teacher: any Seq2SeqModel, ratio: Double) throws -> (
    model: any Seq2SeqModel, plan: AssemblyPlan, cost: PlanCost
  ) {
    let costs = LayerCosts(teacher: teacher)
    let kept = try plan(costs: costs, ratio: ratio)
    return (try apply(kept, to: teacher), kept, costs.cost(of: kept))
  }
}

/// A layer-dropping budget that cannot be met.
public enum LayerDroppingError: Error, LocalizedError, CustomStringConvertible, Equatable {
  /// Even one layer per stack keeps more than `1/requested` of the layer parameters.
  case unreachableRatio(requested: Double, maximum: Double)

  public var description: String {
    switch self {
    case .unreachableRatio(let requested, let maximum):
      "layer dropping cannot reach ratio \(formatRatio(requested)): one layer per stack is ratio \(formatRatio(maximum))"
    }
  }

  public var errorDescription: String? { description }
}
