import Foundation
import JSONFormat
import Seq2SeqModels

/// What to assemble: a strategy with a budget, or a plan given in full.
///
/// ```json
/// {"registry": "Checkpoints/demo/registry", "strategy": "speed-first", "ratio": 2}
/// {"registry": "Checkpoints/demo/registry", "strategy": "pareto", "speedup": 3}
/// {"registry": "Checkpoints/demo/registry",
///  "plan": {"encoder": [{"teacher": 0}, {"teacher": 1}, {"module": "encoder.g2.1"}, …],
///           "decoder": [{"module": "decoder.g6.0"}, {"module": "decoder.g6.1"}]}}
/// ```
/// `registry` is a path relative to the working directory (optional: the
/// command line may give it); `description` is free text. Either `plan`, or
/// `strategy` with exactly one of `ratio` (any strategy) and `speedup`
/// (`pareto` only). Unknown fields are errors.
public struct AssemblyRecipe: Sendable, Equatable {
  public var registry: String?
  public var strategy: AssemblyStrategy?
  public var ratio: Double?
  public var speedup: Double?
  public var plan: AssemblyPlan?
  public var description: String?

  public init(
    registry: String? = nil, strategy: AssemblyStrategy? = nil, ratio: Double? = nil, speedup: Double? = nil,
    plan: AssemblyPlan? = nil, description: String? = nil
  ) {
    self.registry = registry
    self.strategy = strategy
    self.ratio = ratio
    self.speedup = speedup
    self.plan = plan
    self.description = description
  }

  static let fields = ["registry", "strategy", "ratio", "speedup", "plan", "description"]

  /// Reads a recipe file; errors name the file and the field.
  public static func load(from url: URL) throws -> AssemblyRecipe {
    try parse(RecipeFile.read(url), source: url.path)
  }

  /// Parses recipe JSON; `source` names it in errors.
  public static func parse(_ data: Data, source: String) throws -> AssemblyRecipe {
    func fail(_ reason: String) -> RecipeError { RecipeError(file: source, reason: reason) }
    let file = try RecipeFile(data: data, source: source, parts: fields)
    let root = file.root
    func string(_ key: String) throws -> String? {
      guard let value = root[key] else { return nil }
      guard case .string(let text) = value else { throw fail("field '\(key)' must be a string") }
      return text
    }
    func number(_ key: String) throws -> Double? {
      guard let value = root[key] else { return nil }
      guard case .number(let number) = value else { throw fail("field '\(key)' must be a number") }
      guard number.isFinite, number >= 1 else { throw fail("field '\(key)' must be a finite number ≥ 1, not \(number)") }
      return number
    }
    var recipe = AssemblyRecipe()
    recipe.registry = try string("registry")
    recipe.description = try string("description")
    recipe.ratio = try number("ratio")
    recipe.speedup = try number("speedup")
    if let name = try string("strategy") {
      do { recipe.strategy = try AssemblyStrategy(parsing: name) } catch let error as AssemblyError {
        throw fail("field 'strategy': \(error)")
      }
    }
    if let plan = try file.object("plan") { recipe.plan = try parsePlan(plan, source: source, fail: fail) }

    if recipe.plan != nil {
      if let extra = ["strategy", "ratio", "speedup"].first(where: { root[$0] != nil }) {
        throw fail("field '\(extra)' cannot be used with 'plan': a recipe gives a plan or a strategy, not both")
      }
    } else {
      guard let strategy = recipe.strategy else { throw fail("needs 'plan' or 'strategy' (with 'ratio' or 'speedup')") }
      switch (recipe.ratio, recipe.speedup) {
      case (nil, nil): throw fail("field 'ratio' is required with 'strategy'")
      case (.some, .some): throw fail("fields 'ratio' and 'speedup' cannot both be given")
      case (nil, .some) where strategy != .pareto:
        throw fail("field 'speedup' works with strategy 'pareto' only; use 'ratio' with '\(strategy)'")
      default: break
      }
    }
    return recipe
  }

  static func parsePlan(_ object: [String: JSONValue], source: String, fail: (String) -> RecipeError) throws -> AssemblyPlan {
    if let unknown = object.keys.sorted().first(where: { !["encoder", "decoder"].contains($0) }) {
      throw fail("unknown field 'plan.\(unknown)'; expected plan.encoder, plan.decoder")
    }
    func pieces(_ stack: StackRole) throws -> [PlanPiece] {
      let key = "plan.\(stack.rawValue)"
      guard let list = object[stack.rawValue] else { throw fail("missing field '\(key)'") }
      guard case .array(let items) = list else { throw fail("field '\(key)' must be a list of pieces") }
      return try items.enumerated().map { index, item in
        let place = "\(key)[\(index)]"
        guard case .object(let members) = item, members.count == 1 else {
          throw fail("field '\(place)' must be {\"teacher\": LAYER} or {\"module\": \"\(stack.rawValue).gG.J\"}")
        }
        let piece = try RecipeFile.dictionary(members, path: place, source: source)
        if let layer = piece["teacher"] {
          guard case .number(let number) = layer, number >= 0, number == number.rounded(), number < 1e9 else {
            throw fail("field '\(place).teacher' must be a layer index ≥ 0")
          }
          return .teacher(layer: Int(number))
        }
        guard case .string(let id) = piece["module"] else {
          throw fail("field '\(place)' must be {\"teacher\": LAYER} or {\"module\": \"\(stack.rawValue).gG.J\"}")
        }
        guard let span = ModuleSpan(id: id) else {
          throw fail("field '\(place).module': '\(id)' is not a module id like \(stack.rawValue).g2.0")
        }
        guard span.stack == stack else {
          throw fail("field '\(place).module': '\(id)' belongs to the \(span.stack.rawValue), not the \(stack.rawValue)")
        }
        return .module(span)
      }
    }
    return AssemblyPlan(encoder: try pieces(.encoder), decoder: try pieces(.decoder))
  }

  /// The planned assembly this recipe asks for; a plan naming a missing
  /// module, an unreachable ratio or a bad cover is an error naming `source`.
  public func resolve(with planner: AssemblyPlanner, source: String) throws -> PlannedAssembly {
    do {
      if let plan {
        try planner.validate(plan)
        return planner.evaluate(plan)
      }
      guard let strategy else { throw RecipeError(file: source, reason: "needs 'plan' or 'strategy'") }
      if let speedup { return try planner.plan(strategy: strategy, budget: .speedup(speedup)) }
      guard let ratio else { throw RecipeError(file: source, reason: "field 'ratio' is required with 'strategy'") }
      return try planner.plan(strategy: strategy, ratio: ratio)
    } catch let error as AssemblyError {
      throw RecipeError(file: source, reason: error.description)
    }
  }
}
