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
      .value("--ratio", "R", "Layer-parameter compression ratio, e.g. 1.5, 2, 3"),
      .value("--strategy", "NAME", "size-first, speed-first or pareto", default: "speed-first"),
      .value("--recipe", "FILE", "Assembly recipe instead of --ratio/--strategy"),
      .value("--out", "DIR", "Output model folder (required)"),
    ]
  ) { arguments in
    let recipe = try arguments.string("--recipe").map { try AssemblyRecipe.load(from: URL(fileURLWithPath: $0)) }
    guard let registryPath = arguments.string("--registry") ?? recipe?.registry else {
      throw UsageError("give --registry DIR (or a recipe naming one)")
    }
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: registryPath))
    guard let teacherFolder = arguments.string("--teacher").map({ URL(fileURLWithPath: $0) }) ?? registry.teacherFolder else {
      throw UsageError("the registry names no teacher folder; give --teacher DIR")
    }
    let teacher = try ModelLoading.load(from: teacherFolder)
    let teacherFingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    try registry.checkTeacher(teacherFingerprint)
    let planner = AssemblyPlanner(costs: LayerCosts(teacher: teacher), catalog: registry)
    let planned: PlannedAssembly
    if let recipe {
      planned = try recipe.resolve(with: planner, source: arguments.string("--recipe")!)
    } else {
      guard let ratio = try arguments.double("--ratio") else { throw UsageError("give --ratio R or --recipe FILE") }
      planned = try planner.plan(strategy: try AssemblyStrategy(parsing: arguments.string("--strategy") ?? "speed-first"), ratio: ratio)
    }
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    let tokenizer = try? loadTokenizer(from: teacherFolder)
    let (model, report) = try Assembler.assemble(
      planned, teacher: teacher, loadBlock: { try registry.loadBlock($0, for: teacher, teacherFingerprint: teacherFingerprint) },
      to: out, tokenizer: tokenizer, registryFingerprint: try registry.fingerprint(), teacherFingerprint: teacherFingerprint)
    let cost = planned.cost
    print("""
      plan: \(planned.plan.summary)
      layers: \(model.encoder.depth)+\(model.decoder.depth) (teacher \(teacher.encoder.depth)+\(teacher.decoder.depth))
      ratios: layer parameters \(String(format: "%.2f", cost.layerParameterRatio))×, total parameters \(String(format: "%.2f", cost.totalParameterRatio))×, \
      estimated decoding speedup \(String(format: "%.2f", planned.estimatedSpeedup))× (measure with tessera compare)
      saved \(out.path) (\(report.summary))
      """)
  }
}
