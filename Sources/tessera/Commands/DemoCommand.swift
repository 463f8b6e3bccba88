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
        tessera demo --retrain            # train teacher and modules from the recipes first (≤ 15 min, 2 cores)
        tessera demo --retrain --out runs/demo2

      The demo teacher is a 12+12-layer, 64-wide T5 on the built-in dates task
      (Recipes/demo-teacher.json); its modules of granularities 2, 3, 4 and 6 come
      from one mixed-hybrid training run (Recipes/demo-modules.json). Checkpoints/demo
      ships the teacher and registry that `tessera demo --retrain` trained, so by
      default the demo reuses them and only assembles and compares: every ratio of
      --ratios with every strategy of --strategies, plus layer dropping, on the test
      split. --retrain trains both into OUT/teacher and OUT/registry first; a killed
      run picks up from their checkpoints when started again with the same --out.

      Writes OUT/report/{report.md, results.json, results.csv, plot.svg} and
      OUT/demo.json (what ran and how long each phase took).
      """,
    options: [
      .value("--out", "DIR", "Output folder", default: "demo-output"),
      .flag("--retrain", "Train the teacher and the modules from the recipes instead of reusing the shipped ones"),
      .value("--checkpoints", "DIR", "The shipped teacher and registry", default: "Checkpoints/demo"),
      .value("--recipes", "DIR", "Folder with demo-teacher.json and demo-modules.json", default: "Recipes"),
      .value("--ratios", "LIST", "Layer-parameter ratios", default: "1.1,1.5,2,3,4,6"),
      .value("--strategies", "LIST", "Strategies", default: "size-first,speed-first,pareto"),
      .value("--count", "N", "Test examples to evaluate on", default: "500"),
    ]
  ) { arguments in
    let out = URL(fileURLWithPath: arguments.string("--out") ?? "demo-output")
    let recipes = URL(fileURLWithPath: arguments.string("--recipes") ?? "Recipes")
    let modulesRecipePath = (arguments.string("--recipes") ?? "Recipes") + "/demo-modules.json"  // as given, for provenance
    let modulesRecipeURL = URL(fileURLWithPath: modulesRecipePath)
    let modulesRecipe = try ModulesRecipe.load(from: modulesRecipeURL)
    var phases: [(String, Double)] = []
    func timed(_ name: String, _ body: () throws -> Void) rethrows {
      let start = Date()
      try body()
      phases.append((name, Date().timeIntervalSince(start)))
    }

    let teacherFolder: URL, registryFolder: URL
    if arguments.has("--retrain") {
      teacherFolder = out.appendingPathComponent("teacher")
      registryFolder = out.appendingPathComponent("registry")
      let teacherRecipeURL = recipes.appendingPathComponent("demo-teacher.json")
      let teacherRecipe = try TeacherRecipe.load(from: teacherRecipeURL)
      try timed("teacher") {
        print("== 1/3 teacher (\(teacherRecipeURL.path))")
        try TeacherCommands.trainTeacher(
          recipe: teacherRecipe, out: teacherFolder, tokenizer: ByteTokenizer(),
          resume: TrainingCheckpoint.exists(at: teacherFolder))
      }
      try timed("modules") {
        print("== 2/3 modules (\(modulesRecipeURL.path))")
        let checkpoint = registryFolder.appendingPathComponent(ModulesCommands.checkpointFileName)
        let resume = FileManager.default.fileExists(atPath: checkpoint.path)
        if !resume, ModuleRegistry.exists(at: registryFolder), !(try ModuleRegistry.open(at: registryFolder).entries.isEmpty) {
          print("\(registryFolder.path) already holds the trained modules; reusing them")
        } else {
          try ModulesCommands.trainModules(
            teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: modulesRecipe, resume: resume,
            recipePath: modulesRecipePath)
        }
      }
    } else {
      let shipped = URL(fileURLWithPath: arguments.string("--checkpoints") ?? "Checkpoints/demo")
      teacherFolder = shipped.appendingPathComponent("teacher")
      registryFolder = shipped.appendingPathComponent("registry")
      guard ModuleRegistry.exists(at: registryFolder) else {
        throw UsageError("\(registryFolder.path) holds no registry; run from the repository root, or pass --retrain to train one")
      }
      print("reusing the shipped teacher and modules in \(shipped.path) (--retrain trains them anew)")
    }

    try timed("compare") {
      print("== \(arguments.has("--retrain") ? "3/3 " : "")assemble and compare")
      var settings = try CompareCommand.settings(from: arguments)
      let count = try arguments.int("--count") ?? 500
      guard count >= 1 else { throw UsageError("--count must be at least 1, got \(count)") }
      var data = modulesRecipe.data
      data.testExamples = max(data.testExamples, count)
      let examples = Array(try data.examples(.test).prefix(count))
      settings.dataName = "\(data.displayName), test split"
      try CompareCommand.compare(
        registry: try ModuleRegistry.open(at: registryFolder), teacherFolder: teacherFolder, examples: examples,
        settings: settings, out: out.appendingPathComponent("report"), saveModels: false)
    }

    let record: [String: Any] = [
      "command": (["tessera"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
      "retrained": arguments.has("--retrain"), "teacher": teacherFolder.path, "registry": registryFolder.path,
      "seconds": Dictionary(uniqueKeysWithValues: phases.map { ($0.0, ($0.1 * 10).rounded() / 10) }),
    ]
    try AtomicFile.write(
      try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]),
      to: out.appendingPathComponent("demo.json"))
    print(phases.map { String(format: "%@ %.0f s", $0.0, $0.1) }.joined(separator: " · "))
  }
}
