import Seq2SeqModels
import TensorCore

/// Draws the hybrid model of each training step: a cover of each stack by
/// teacher layers and modules. The draw depends only on (seed, step), so a
/// resumed run trains exactly the hybrids an uninterrupted one would.
struct HybridSampler {
  let sampling: HybridSampling
  let granularities: [Int]
  let depths: [StackRole: Int]
  let seed: UInt64

  /// The plan of `step` with replacement probability `p`, and the granularity
  /// it was drawn for (per-step sampling) or nil (mixed). At least one span is
  /// replaced, so every step trains some module.
  func plan(step: Int, probability p: Float) -> (plan: AssemblyPlan, granularity: Int?) {
    var random = SeededRandom(seed: seed, stream: 11).split(UInt64(step))
    switch sampling {
    case .perStep:
      let g = usableGranularities[random.nextInt(below: usableGranularities.count)]
      return (perStepPlan(granularity: g, probability: p, &random), g)
    case .every:
      // Sampling `every` asks for ``plans(step:probability:)``; one plan here is its first.
      return (plans(step: step, probability: p)[0], usableGranularities[0])
    case .mixed:
      var plan = AssemblyPlan(encoder: mixedCover(.encoder, p, &random), decoder: mixedCover(.decoder, p, &random))
      if plan.modules.isEmpty {
        // Force one module: the first granularity that fits, at a random aligned span.
        let stack = StackRole.allCases[random.nextInt(below: 2)]
        let depth = depths[stack]!
        if let g = granularities.first(where: { $0 <= depth }) {
          let span = ModuleSpan(stack: stack, granularity: g, index: random.nextInt(below: depth / g))
          let pieces = cover(stack) { $0 == span.start ? span : nil }
          if stack == .encoder { plan.encoder = pieces } else { plan.decoder = pieces }
        }
      }
      return (plan, nil)
    }
  }

  /// The plans of `step`: one per usable granularity with sampling `every`
  /// (each from its own random stream), else the one ``plan(step:probability:)`` draws.
  func plans(step: Int, probability p: Float) -> [AssemblyPlan] {
    guard sampling == .every else { return [plan(step: step, probability: p).plan] }
    return usableGranularities.map { g in
      var random = SeededRandom(seed: seed, stream: 11).split(UInt64(step)).split(UInt64(g))
      return perStepPlan(granularity: g, probability: p, &random)
    }
  }

  /// Granularities that fit at least one stack.
  private var usableGranularities: [Int] { granularities.filter { g in depths.values.contains { $0 >= g } } }

  /// Each aligned span of `g` replaced with probability `p`; at least one.
  private func perStepPlan(granularity g: Int, probability p: Float, _ random: inout SeededRandom) -> AssemblyPlan {
    var chosen: [StackRole: Set<Int>] = [:]
    var all: [ModuleSpan] = []
    for stack in StackRole.allCases {
      for span in ModuleSpan.spans(stack: stack, depth: depths[stack]!, granularity: g) {
        all.append(span)
        if random.nextFloat() < p { chosen[stack, default: []].insert(span.index) }
      }
    }
    if chosen.values.allSatisfy(\.isEmpty) {
      let span = all[random.nextInt(below: all.count)]
      chosen[span.stack, default: []].insert(span.index)
    }
    func pieces(_ stack: StackRole) -> [PlanPiece] {
      cover(stack) { layer in
        layer % g == 0 && chosen[stack]?.contains(layer / g) == true ? ModuleSpan(stack: stack, granularity: g, index: layer / g) : nil
      }
    }
    return AssemblyPlan(encoder: pieces(.encoder), decoder: pieces(.decoder))
  }

  /// Walks the stack: at each layer where aligned spans start, a module of a
  /// random fitting granularity with probability `p`, else the teacher layer.
  private func mixedCover(_ stack: StackRole, _ p: Float, _ random: inout SeededRandom) -> [PlanPiece] {
    cover(stack) { layer in
      let fitting = granularities.filter { layer % $0 == 0 && layer + $0 <= depths[stack]! }
      guard !fitting.isEmpty, random.nextFloat() < p else { return nil }
      let g = fitting[random.nextInt(below: fitting.count)]
      return ModuleSpan(stack: stack, granularity: g, index: layer / g)
    }
  }

  private func cover(_ stack: StackRole, moduleAt: (Int) -> ModuleSpan?) -> [PlanPiece] {
    AssemblyPlan.cover(depth: depths[stack]!, moduleAt: moduleAt)
  }
}
