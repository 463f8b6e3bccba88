import Foundation
import Seq2SeqModels

/// Chooses plans for a budget with the strategies of ``AssemblyStrategy``.
///
/// The search never lists every plan. Dynamic programming over each stack
/// keeps, for every *profile* (parameter count and number of blocks of each
/// kind, which fix size and latency), the one cover the strategy prefers;
/// the strategies then pick among pairs of encoder and decoder profiles.
public struct AssemblyPlanner: Sendable {
  public let costs: LayerCosts
  /// The catalog's modules that fit the teacher's depths.
  public let modules: [ModuleSpan: ModuleFacts]
  public let latency: LatencyModel
  public let quality: QualityModel
  /// Predicted loss increase of each module.
  public let penalties: [ModuleSpan: Double]
  /// Per stack, the best cover of each profile by the fixed order alone (size-first, speed-first).
  let plainOptions: [StackRole: [StackOption]]
  /// Per stack, the best cover of each profile by predicted quality (pareto).
  let qualityOptions: [StackRole: [StackOption]]

  /// `costs.moduleParameters` is filled from the catalog; `quality` defaults
  /// to the catalog's teacher loss as the baseline.
  public init(
    costs: LayerCosts, catalog: some ModuleCatalog, latency: LatencyModel = LatencyModel(), quality: QualityModel? = nil
  ) {
    var costs = costs
    let fitting = catalog.availableModules.filter { $0.key.end <= costs.depth($0.key.stack) }
    for (span, facts) in fitting { costs.moduleParameters[span] = facts.parameters }
    self.costs = costs
    self.modules = fitting
    self.latency = latency
    self.quality = quality ?? QualityModel(teacherValidationLoss: catalog.teacherValidationLoss)
    let penalties = self.quality.penalties(fitting)
    self.penalties = penalties
    var plain: [StackRole: [StackOption]] = [:], byQuality: [StackRole: [StackOption]] = [:]
    for stack in StackRole.allCases {
      let search = StackSearch(stack: stack, costs: costs, modules: Array(fitting.keys), latency: latency, penalties: penalties)
      plain[stack] = search.options { precedes($0.pieces, $1.pieces) }
      byQuality[stack] = search.options {
        $0.penalty != $1.penalty ? $0.penalty < $1.penalty : precedes($0.pieces, $1.pieces)
      }
    }
    plainOptions = plain
    qualityOptions = byQuality
  }

  // MARK: Reachability

  /// Estimated seconds of the teacher itself.
  public var teacherSeconds: Double {
    StackRole.allCases.reduce(0) { total, stack in
      costs.layers(stack).reduce(total) { $0 + latency.seconds(.teacherLayer(stack), parameters: $1, costs: costs) }
    }
  }

  /// Distinct layer-parameter counts the catalog's plans can have, descending.
  var reachableLayerParameters: [Int] {
    let encoder = Set(plainOptions[.encoder, default: []].map(\.parameters))
    let decoder = Set(plainOptions[.decoder, default: []].map(\.parameters))
    return Set(encoder.flatMap { e in decoder.map { e + $0 } }).sorted(by: >)
  }

  /// Every reachable layer-parameter ratio, rounded to two decimals, ascending.
  public var reachableRatios: [Double] {
    var seen = Set<Double>()
    return reachableLayerParameters.map { (ratio(layerParameters: $0) * 100).rounded() / 100 }.filter { seen.insert($0).inserted }
  }

  /// The largest layer-parameter ratio the catalog can reach.
  public var maximumRatio: Double { reachableLayerParameters.last.map { ratio(layerParameters: $0) } ?? 1 }

  func ratio(layerParameters: Int) -> Double {
    layerParameters == 0 ? 1 : Double(costs.teacherLayerParameterTotal) / Double(layerParameters)
  }

  // MARK: Choosing

  /// The plan `strategy` chooses for layer-parameter ratio `ratio`.
  public func plan(strategy: AssemblyStrategy, ratio: Double) throws -> PlannedAssembly {
    try plan(strategy: strategy, budget: .layerParameterRatio(ratio))
  }

  /// The plan `strategy` chooses for `budget` (a speedup budget is for `pareto` only).
  public func plan(strategy: AssemblyStrategy, budget: AssemblyBudget) throws -> PlannedAssembly {
    let fits: (Candidate) -> Bool
    switch budget {
    case .layerParameterRatio(let ratio):
      guard ratio.isFinite, ratio >= 1 else { throw AssemblyError.invalidRatio(ratio) }
      let limit = Double(costs.teacherLayerParameterTotal) / ratio * (1 + 1e-9)
      fits = { Double($0.parameters) <= limit }
    case .speedup(let speedup):
      guard speedup.isFinite, speedup >= 1 else { throw AssemblyError.invalidSpeedup(speedup) }
      guard strategy == .pareto else { throw AssemblyError.budgetNotSupported(strategy: strategy) }
      let limit = teacherSeconds / speedup * (1 + 1e-9)
      fits = { $0.seconds <= limit }
    }
    let options = strategy == .pareto ? qualityOptions : plainOptions
    var best: Candidate?
    for encoder in options[.encoder, default: []] {
      for decoder in options[.decoder, default: []] {
        let candidate = Candidate(encoder: encoder, decoder: decoder)
        guard fits(candidate) else { continue }
        if let current = best, !isPreferred(candidate, over: current, by: strategy) { continue }
        best = candidate
      }
    }
    guard let chosen = best else {
      switch budget {
      case .layerParameterRatio(let ratio):
        throw AssemblyError.unreachableRatio(requested: ratio, maximum: maximumRatio, reachable: reachableRatios)
      case .speedup(let speedup):
        let fastest = (options[.encoder, default: []].map(\.seconds).min() ?? 0) + (options[.decoder, default: []].map(\.seconds).min() ?? 0)
        throw AssemblyError.unreachableSpeedup(requested: speedup, maximum: fastest > 0 ? teacherSeconds / fastest : 1)
      }
    }
    var planned = evaluate(AssemblyPlan(encoder: chosen.encoder.pieces, decoder: chosen.decoder.pieces))
    planned.strategy = strategy
    planned.budget = budget
    return planned
  }

  /// The plans no other plan beats on both predicted loss increase and
  /// estimated latency, fastest first.
  public func paretoFront() -> [PlannedAssembly] {
    var candidates: [Candidate] = []
    for encoder in qualityOptions[.encoder, default: []] {
      for decoder in qualityOptions[.decoder, default: []] { candidates.append(Candidate(encoder: encoder, decoder: decoder)) }
    }
    candidates.sort { a, b in
      a.seconds != b.seconds ? a.seconds < b.seconds : (a.penalty != b.penalty ? a.penalty < b.penalty : precedes(a.pieces, b.pieces))
    }
    var front: [PlannedAssembly] = []
    var bestPenalty = Double.infinity
    for candidate in candidates where candidate.penalty < bestPenalty {
      bestPenalty = candidate.penalty
      var planned = evaluate(AssemblyPlan(encoder: candidate.encoder.pieces, decoder: candidate.decoder.pieces))
      planned.strategy = .pareto
      front.append(planned)
    }
    return front
  }

  /// Whether `a` beats `b` under `strategy` (see ``AssemblyStrategy`` for the order).
  func isPreferred(_ a: Candidate, over b: Candidate, by strategy: AssemblyStrategy) -> Bool {
    // Each key: lower is better; compared in turn, equal within rounding noise.
    let keys: [(Double, Double)]
    let moreParameters = (-Double(a.parameters), -Double(b.parameters))
    let fewerModules = (Double(a.moduleCount), Double(b.moduleCount))
    switch strategy {
    case .sizeFirst: keys = [moreParameters, (imbalance(a), imbalance(b)), fewerModules]
    case .speedFirst:
      keys = [(-Double(a.encoder.parameters), -Double(b.encoder.parameters)), moreParameters, fewerModules]
    case .pareto: keys = [(a.penalty, b.penalty), moreParameters, (a.seconds, b.seconds), fewerModules]
    }
    for (x, y) in keys where abs(x - y) > 1e-12 * max(1, abs(x), abs(y)) { return x < y }
    return precedes(a.pieces, b.pieces)
  }

  /// How unevenly compression falls on the two stacks: |log ρ_enc − log ρ_dec|.
  func imbalance(_ candidate: Candidate) -> Double {
    func logRatio(_ stack: StackRole, _ parameters: Int) -> Double {
      let teacher = costs.teacherStackParameters(stack)
      return teacher == 0 || parameters == 0 ? 0 : log(Double(teacher) / Double(parameters))
    }
    return abs(logRatio(.encoder, candidate.encoder.parameters) - logRatio(.decoder, candidate.decoder.parameters))
  }

  // MARK: Explicit plans

  /// Checks that `plan` covers the teacher's stacks and uses only available modules.
  public func validate(_ plan: AssemblyPlan) throws {
    for stack in StackRole.allCases {
      let depth = costs.depth(stack)
      var next = 0
      for (position, piece) in plan.pieces(stack).enumerated() {
        let place = "\(stack.rawValue)[\(position)]"
        if case .module(let span) = piece {
          guard span.stack == stack else {
            throw AssemblyError.invalidPlan("\(place) is '\(span.id)', a module of the \(span.stack.rawValue)")
          }
          guard modules[span] != nil else {
            let available = modules.keys.filter { $0.stack == stack }.sorted().map(\.id)
            throw AssemblyError.missingModule(span.id, available: available)
          }
        }
        guard piece.layers.lowerBound == next else {
          throw AssemblyError.invalidPlan(
            "\(place) (\(piece)) starts at layer \(piece.layers.lowerBound); the \(stack.rawValue) needs layer \(next) next")
        }
        guard piece.layers.upperBound <= depth else {
          throw AssemblyError.invalidPlan("\(place) (\(piece)) goes past the teacher's \(depth) \(stack.rawValue) layers")
        }
        next = piece.layers.upperBound
      }
      guard next == depth else {
        throw AssemblyError.invalidPlan("the \(stack.rawValue) covers layers 0..<\(next) of the teacher's \(depth)")
      }
    }
  }

  /// Sizes, ratios and predictions of a plan (assumed valid; see ``validate(_:)``).
  public func evaluate(_ plan: AssemblyPlan) -> PlannedAssembly {
    var seconds = 0.0, penalty = 0.0
    for stack in StackRole.allCases {
      for piece in plan.pieces(stack) {
        seconds += latency.seconds(BlockKind(piece, in: stack), parameters: costs.parameters(of: piece, in: stack), costs: costs)
        if case .module(let span) = piece { penalty += penalties[span] ?? 0 }
      }
    }
    return PlannedAssembly(
      plan: plan, strategy: nil, budget: nil, cost: costs.cost(of: plan), predictedLossIncrease: penalty,
      estimatedSeconds: seconds, estimatedSpeedup: seconds > 0 ? teacherSeconds / seconds : 1)
  }
}

/// The fixed last tie-break: position by position, a teacher layer before a
/// module and a finer module before a coarser one.
func precedes(_ a: [PlanPiece], _ b: [PlanPiece]) -> Bool {
  func rank(_ piece: PlanPiece) -> (Int, Int) {
    switch piece {
    case .teacher(let layer): (layer, 1)
    case .module(let span): (span.start, span.granularity)
    }
  }
  for (x, y) in zip(a, b) where x != y { return rank(x) < rank(y) }
  return a.count < b.count
}

/// One cover of one stack with its totals.
struct StackOption: Sendable {
  var pieces: [PlanPiece]
  var parameters: Int
  var seconds: Double
  var penalty: Double
  var moduleCount: Int
}

/// A pair of stack covers: one plan.
struct Candidate {
  var encoder: StackOption
  var decoder: StackOption
  var parameters: Int { encoder.parameters + decoder.parameters }
  var seconds: Double { encoder.seconds + decoder.seconds }
  var penalty: Double { encoder.penalty + decoder.penalty }
  var moduleCount: Int { encoder.moduleCount + decoder.moduleCount }
  /// Encoder pieces then decoder pieces, for the fixed tie-break.
  var pieces: [PlanPiece] { encoder.pieces + decoder.pieces }
}

/// Dynamic programming over the covers of one stack.
struct StackSearch {
  /// Parameters and the number of blocks of each kind: what size and latency depend on.
  struct Profile: Hashable {
    var parameters: Int
    var counts: [Int]
  }

  let stack: StackRole
  let depth: Int
  let starting: [[PlanPiece]]
  let kindIndex: [Int: Int]
  let costs: LayerCosts
  let latency: LatencyModel
  let penalties: [ModuleSpan: Double]

  init(stack: StackRole, costs: LayerCosts, modules: [ModuleSpan], latency: LatencyModel, penalties: [ModuleSpan: Double]) {
    self.stack = stack
    depth = costs.depth(stack)
    starting = PlanEnumeration.startingPieces(stack: stack, depth: depth, modules: modules)
    let granularities = [1] + Set(modules.filter { $0.stack == stack }.map(\.granularity)).sorted()
    kindIndex = Dictionary(uniqueKeysWithValues: granularities.enumerated().map { ($0.element, $0.offset) })
    self.costs = costs
    self.latency = latency
    self.penalties = penalties
  }

  /// For every reachable profile, the cover `isBetter` ranks first (a strict
  /// total order on covers, so the result does not depend on dictionary order).
  func options(_ isBetter: (StackOption, StackOption) -> Bool) -> [StackOption] {
    // table[i]: best cover of layers i..<depth per profile.
    var table = [[Profile: StackOption]](repeating: [:], count: depth + 1)
    table[depth] = [
      Profile(parameters: 0, counts: [Int](repeating: 0, count: kindIndex.count)):
        StackOption(pieces: [], parameters: 0, seconds: 0, penalty: 0, moduleCount: 0)
    ]
    for start in stride(from: depth - 1, through: 0, by: -1) {
      var here: [Profile: StackOption] = [:]
      for piece in starting[start] {
        let kind = BlockKind(piece, in: stack)
        let parameters = costs.parameters(of: piece, in: stack)
        let seconds = latency.seconds(kind, parameters: parameters, costs: costs)
        var penalty = 0.0, isModule = 0
        if case .module(let span) = piece { (penalty, isModule) = (penalties[span] ?? 0, 1) }
        for (profile, rest) in table[piece.layers.upperBound] {
          var key = profile
          key.parameters += parameters
          key.counts[kindIndex[kind.granularity]!] += 1
          let option = StackOption(
            pieces: [piece] + rest.pieces, parameters: rest.parameters + parameters, seconds: rest.seconds + seconds,
            penalty: rest.penalty + penalty, moduleCount: rest.moduleCount + isModule)
          if let existing = here[key], !isBetter(option, existing) { continue }
          here[key] = option
        }
      }
      table[start] = here
    }
    return table[0].values.sorted { $0.parameters != $1.parameters ? $0.parameters > $1.parameters : precedes($0.pieces, $1.pieces) }
  }
}
