import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// `tessera demo`: the whole loop on the built-in demo task.
enum DemoCommand {
  static let command = Command(
    path: ["demo"],
    summary: "Run the whole loop on the built-in demo: teacher, modules, assemblies at 1.1x–6x, comparison report",
    discussion: """
      EXAMPLES:
        tessera demo                      # reuse Checkpoints/demo: assemble and compare (minutes)
        tessera demo --retrain            # train teacher, modules and baselines first (about 80 min, 2 cores)
        tessera demo --retrain --out runs/demo2

      The demo teacher is a 6+6-layer, 64-wide T5 on the built-in arithmetic task
      (4821 * 37 → 178377; Recipes/demo-teacher.json), good but not perfect; its
      modules of granularities 2, 3 and 6 come from one run
      (Recipes/demo-modules.json: a local stage, then hybrids of every granularity), and the
      per-ratio baselines it is measured against (kd, sft and scratch at 2×, 3× and 6×) from
      Recipes/demo-baselines.json, each given the modules run's steps. Checkpoints/demo
      ships all three as `tessera demo --retrain` trained them, so by default the demo
      reuses them and only assembles and compares: every ratio of --ratios with every
      strategy of --strategies, the baselines and layer dropping, on the test split,
      with a training-cost ledger of the modules run against the baselines' runs.
      --retrain trains them into OUT/teacher, OUT/registry and OUT/baselines first; a
      killed run picks up from their checkpoints when started again with the same --out.

      Writes OUT/report/{report.md, results.json, results.csv, plot.svg} and
      OUT/demo.json (what ran and how long each phase took).
      """,
    options: [
      .value("--out", "DIR", "Output folder", default: "demo-output"),
      .flag("--retrain", "Train the teacher, the modules and the baselines from the recipes instead of reusing the shipped ones"),
      .value("--checkpoints", "DIR", "The shipped teacher and registry, reused unless --retrain (default: Checkpoints/demo)"),
      .value("--recipes", "DIR", "Folder with demo-teacher.json, demo-modules.json and demo-baselines.json", default: "Recipes"),
      .value("--ratios", "LIST", "Layer-parameter ratios", default: "1.1,1.5,2,3,4,6"),
      .value("--strategies", "LIST", "Strategies", default: "size-first,speed-first,pareto"),
      .value("--count", "N", "Test examples to evaluate on", default: "500"),
    ]
  ) { arguments in
    let out = URL(fileURLWithPath: arguments.string("--out") ?? "demo-output")
    let recipes = arguments.string("--recipes") ?? "Recipes"
    let modulesRecipePath = recipes + "/demo-modules.json"  // as given, for provenance
    let teacherRecipePath = recipes + "/demo-teacher.json"
    let retrain = arguments.has("--retrain")
    if retrain, arguments.string("--checkpoints") != nil {
      throw UsageError("--checkpoints names the shipped teacher and registry to reuse; --retrain trains new ones instead: give one of them")
    }
    let comparison = try CompareCommand.settings(from: arguments)
    let count = try arguments.int("--count") ?? 500
    guard count >= 1 else { throw UsageError("--count must be at least 1, got \(count)") }
    let shipped = URL(fileURLWithPath: arguments.string("--checkpoints") ?? "Checkpoints/demo")
    let parameters = DemoParameters(
      output: out, teacherRecipe: retrain ? try TeacherRecipe.load(from: URL(fileURLWithPath: teacherRecipePath)) : nil,
      modulesRecipe: try ModulesRecipe.load(from: URL(fileURLWithPath: modulesRecipePath)),
      modulesRecipePath: modulesRecipePath, shipped: shipped, comparison: comparison, count: count,
      command: ModulesCommands.commandLine,
      baselines: retrain
        ? DemoBaselines(recipe: try BaselineRecipe.load(from: URL(fileURLWithPath: recipes + "/demo-baselines.json"))) : nil)
    if !retrain {
      guard ModuleRegistry.exists(at: shipped.appendingPathComponent("registry")) else {
        throw UsageError(
          "\(shipped.appendingPathComponent("registry").path) holds no registry; run from the repository root, or pass --retrain to train one")
      }
      print("reusing the shipped teacher and modules in \(shipped.path) (--retrain trains them anew)")
    }
    if let baselines = Demo.baselinesFolder(parameters) { print("comparing against the baselines in \(baselines.path)") }

    var teacherDisplay: TeacherRunDisplay?
    var moduleDisplay: ModuleRunDisplay?
    var compareBar: ProgressBar?
    var baselinesDisplay: BaselineSweepDisplay?
    let result = try Demo.run(parameters) { event in
        switch event {
        case .teacher(let event):
          if teacherDisplay == nil, let recipe = parameters.teacherRecipe {
            print("== 1/4 teacher (\(teacherRecipePath))")
            teacherDisplay = TeacherRunDisplay(recipe: recipe, out: out.appendingPathComponent("teacher"))
          }
          teacherDisplay?.show(event)
        case .modules(let event):
          if moduleDisplay == nil {
            teacherDisplay?.finish()
            teacherDisplay = nil
            print("== 2/4 modules (\(modulesRecipePath))")
            moduleDisplay = ModuleRunDisplay(ModuleTrainingParameters(
              teacherFolder: out.appendingPathComponent("teacher"), registryFolder: out.appendingPathComponent("registry"),
              recipe: parameters.modulesRecipe))
          }
          moduleDisplay?.show(event)
        case .baselines(let event):
          if baselinesDisplay == nil, let baselines = parameters.baselines {
            print("== 3/4 baselines (\(recipes)/demo-baselines.json: \(baselines.methods.map(\.rawValue).joined(separator: ", ")) at \(baselines.ratios.map { String(format: "%g×", $0) }.joined(separator: ", ")))")
            baselinesDisplay = BaselineSweepDisplay(
              recipe: baselines.recipe, methods: baselines.methods, ratios: baselines.ratios,
              out: out.appendingPathComponent(Demo.baselinesFolderName))
          }
          baselinesDisplay?.show(event)
        case .reusingModules(let registry):
          teacherDisplay?.finish()
          teacherDisplay = nil
          print("\(registry.path) already holds the trained modules; reusing them")
        case .comparing(let teacher, let registry, let examples):
          teacherDisplay?.finish()
          teacherDisplay = nil
          print("== \(retrain ? "4/4 " : "")assemble and compare")
          print("""
            teacher: \(teacher.modelType) \(teacher.encoder.depth)+\(teacher.decoder.depth) layers, \
            \(teacher.parameterCount.formatted()) parameters; registry: \(registry.entries.count) modules
            data: \(parameters.modulesRecipe.data.displayName), test split, \(examples) examples
            """)
        case .comparison(let progress):
          guard progress.models > 0 else { return }
          if compareBar == nil { compareBar = ProgressBar(total: progress.models, label: "compare") }
          compareBar?.update(
            progress.modelsDone, detail: "\(progress.label): \(progress.stage.rawValue) \(progress.examplesDone)/\(progress.examples)")
        }
    }
    compareBar?.finish()
    print(ComparisonReport.table(result.results))
    if let ledger = result.results.ledger { print(ComparisonReport.ledgerSummary(ledger).joined(separator: "\n")) }
    print("wrote \(out.appendingPathComponent("report").path) and \(out.appendingPathComponent("demo.json").path)")
    print(result.seconds.map { String(format: "%@ %.0f s", $0.phase, $0.seconds) }.joined(separator: " · "))
  }
}
