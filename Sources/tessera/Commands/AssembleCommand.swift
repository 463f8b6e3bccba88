import Foundation
import ModularCompression
import Seq2SeqModels
import Tokenizers

/// `tessera assemble`: a model at a compression ratio from a registry, no training.
enum AssembleCommand {
  static let command = Command(
    path: ["assemble"],
    summary: "Assemble a compressed model from a teacher and its module registry",
    discussion: """
      EXAMPLES:
        tessera assemble --registry Checkpoints/demo/registry --ratio 3 --strategy speed-first --out models/3x
        tessera assemble --recipe Recipes/assemble-2-size-first.json --out models/2x

      Strategies: size-first (spread modules evenly to reach the parameter ratio),
      speed-first (compress the decoder first: it runs once per generated token),
      pareto (best predicted quality from the modules' probed losses within the
      budget). The ratio is Transformer-layer parameters, teacher / assembly. A
      ratio the registry cannot reach is an error listing the reachable ones.
      Writes a Hugging Face style model folder plus assembly.json.
      """,
    options: [
      .value("--registry", "DIR", "Module registry (or the recipe's)"),
      .value("--teacher", "DIR", "Teacher model folder (default: the one the registry names)"),
      .value("--ratio", "R", "Layer-parameter compression ratio, e.g. 1.5, 2, 3 (not with --recipe)"),
      .value("--strategy", "NAME", "size-first, speed-first or pareto (default speed-first; not with --recipe)"),
      .value("--recipe", "FILE", "Assembly recipe instead of --ratio/--strategy"),
      .value("--out", "DIR", "Output model folder (required; an existing one must be an assembly)"),
      .flag("--remeasure-latency", "Time the teacher's layers again and replace the registry's latency profile"),
      .flag("--force", "Let --out replace another kind of Tessera output (never files Tessera did not write)"),
    ] + WeightFormatFlags.options
  ) { arguments in
    let (recipe, source) = try request(arguments)
    let format = try WeightFormatFlags.format(arguments)
    guard let registryPath = arguments.string("--registry") ?? recipe.registry else {
      throw UsageError("give --registry DIR (or a recipe naming one)")
    }
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let outcome = try Assembler.run(
      AssemblyParameters(
        registryFolder: URL(fileURLWithPath: registryPath), teacherFolder: arguments.string("--teacher").map { URL(fileURLWithPath: $0) },
        recipe: recipe, recipeSource: source, out: out, remeasureLatency: arguments.has("--remeasure-latency"),
        force: arguments.has("--force"), format: format)
    ) { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    let (planned, model, teacher) = (outcome.planned, outcome.model, outcome.teacher)
    let cost = planned.cost
    let profile = outcome.latencyProfile.map {
      "\nplanner latency: " + (outcome.isNewLatencyProfile ? "measured now and kept in " : "kept in ")
        + "\(URL(fileURLWithPath: registryPath).appendingPathComponent(LatencyProfile.fileName).path) (measured \($0.measured))"
    } ?? ""
    print("""
      plan: \(planned.plan.summary)
      layers: \(model.encoder.depth)+\(model.decoder.depth) (teacher \(teacher.encoder.depth)+\(teacher.decoder.depth))
      ratios: layer parameters \(String(format: "%.2f", cost.layerParameterRatio))×, total parameters \(String(format: "%.2f", cost.totalParameterRatio))×, \
      estimated decoding speedup \(String(format: "%.2f", planned.estimatedSpeedup))× (measure with tessera compare)\(profile)
      saved \(out.path) (\(outcome.report.summary))
      """)
  }

  /// The recipe to assemble: the --recipe file, or one made of --ratio and
  /// --strategy. Flags are never silently dropped: with a recipe, --ratio and
  /// --strategy are errors, and a --registry must agree with the recipe's.
  static func request(_ arguments: ParsedArguments) throws -> (recipe: AssemblyRecipe, source: String) {
    guard let path = arguments.string("--recipe") else {
      guard let ratio = try arguments.double("--ratio") else { throw UsageError("give --ratio R or --recipe FILE") }
      let strategy: AssemblyStrategy
      do { strategy = try AssemblyStrategy(parsing: arguments.string("--strategy") ?? "speed-first") } catch {
        throw UsageError("--strategy: \(error)")
      }
      guard ratio >= 1 else { throw UsageError("--ratio must be a number ≥ 1, got \(ratio)") }
      return (AssemblyRecipe(strategy: strategy, ratio: ratio), "the command line")
    }
    let recipe = try AssemblyRecipe.load(from: URL(fileURLWithPath: path))
    let sets = recipe.plan != nil ? "gives a plan" : "sets the strategy and its budget"
    for flag in ["--ratio", "--strategy"] where arguments.string(flag) != nil {
      throw UsageError("\(flag) cannot be used with --recipe: the recipe \(path) already \(sets); edit the recipe or leave out \(flag)")
    }
    if let flag = arguments.string("--registry"), let own = recipe.registry,
      URL(fileURLWithPath: flag).standardizedFileURL != URL(fileURLWithPath: own).standardizedFileURL
    {
      throw UsageError("--registry \(flag) disagrees with the recipe \(path), which names the registry \(own)")
    }
    return (recipe, path)
  }
}
