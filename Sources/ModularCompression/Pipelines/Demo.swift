import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// What `tessera demo` runs: optionally a teacher and its modules from the
/// demo recipes, then the comparison of assemblies against the teacher.
public struct DemoParameters {
  /// Receives `teacher/` and `registry/` (when retraining), `report/` and `demo.json`.
  public var output: URL
  /// The teacher recipe to train from; nil reuses `shipped`.
  public var teacherRecipe: TeacherRecipe?
  /// The modules recipe: trains the modules when retraining, and names the test data.
  public var modulesRecipe: ModulesRecipe
  /// Stored in the modules' provenance.
  public var modulesRecipePath: String?
  /// When retraining: the per-ratio baselines trained into `OUT/baselines`
  /// after the modules (nil trains none).
  public var baselines: DemoBaselines?
  /// The folder with the shipped `teacher/` and `registry/`, used unless retraining.
  public var shipped: URL
  public var comparison: ComparisonSettings
  /// Test examples to compare on.
  public var count: Int
  public var command: String?

  public init(
    output: URL, teacherRecipe: TeacherRecipe? = nil, modulesRecipe: ModulesRecipe, modulesRecipePath: String? = nil,
    shipped: URL, comparison: ComparisonSettings = ComparisonSettings(), count: Int = 500, command: String? = nil,
    baselines: DemoBaselines? = nil
  ) {
    self.baselines = baselines
    self.output = output
    self.teacherRecipe = teacherRecipe
    self.modulesRecipe = modulesRecipe
    self.modulesRecipePath = modulesRecipePath
    self.shipped = shipped
    self.comparison = comparison
    self.count = count
    self.command = command
  }
}

/// The baselines a retrained demo trains: each method at each ratio, from one recipe.
public struct DemoBaselines {
  public var recipe: BaselineRecipe
  public var methods: [BaselineMethod]
  public var ratios: [Double]

  /// The shipped demo's: kd, sft and scratch at 2×, 3× and 6× — students that
  /// start from the teacher's layers and one that does not, since which wins
  /// depends on the teacher (on the earlier 12+12 demo teacher, scratch did).
  public init(recipe: BaselineRecipe, methods: [BaselineMethod] = [.kd, .sft, .scratch], ratios: [Double] = [2, 3, 6]) {
    (self.recipe, self.methods, self.ratios) = (recipe, methods, ratios)
  }
}

/// What the demo reports as it goes.
public enum DemoEvent {
  case teacher(TeacherTrainingEvent)
  case modules(ModuleTrainingEvent)
  /// The registry already holds the trained modules of an earlier run of the demo.
  case reusingModules(registry: URL)
  case baselines(BaselineSweepEvent)
  /// The comparison starts on `examples` test examples.
  case comparing(teacher: any Seq2SeqModel, registry: ModuleRegistry, examples: Int)
  case comparison(ComparisonProgress)
}

/// What the demo produced.
public struct DemoResult {
  public var teacherFolder: URL
  public var registryFolder: URL
  public var results: ComparisonResults
  /// Seconds each phase took (`teacher`, `modules`, `compare`), in order.
  public var seconds: [(phase: String, seconds: Double)]
}

/// The whole loop on the built-in demo task.
public enum Demo {
  /// The subfolder of baselines (`tessera baselines`) compared when present.
  public static let baselinesFolderName = "baselines"

  /// The baselines the demo compares: `baselines/` beside the teacher it
  /// compares (the shipped one, or the retrained one in the output), when it
  /// exists; nil keeps the comparison without baselines.
  public static func baselinesFolder(_ parameters: DemoParameters) -> URL? {
    let folder = (parameters.teacherRecipe == nil ? parameters.shipped : parameters.output)
      .appendingPathComponent(baselinesFolderName)
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) && isFolder.boolValue ? folder : nil
  }

  /// Runs the demo. Retraining resumes the teacher and modules a killed
  /// earlier demo left in `output`, and reuses modules it already finished.
  public static func run(_ parameters: DemoParameters, events: (DemoEvent) throws -> Void = { _ in }) throws -> DemoResult {
    try OutputFolder.claim(
      parameters.output, as: .demo, force: false, reading: parameters.teacherRecipe == nil ? [parameters.shipped] : [])
    let recordURL = parameters.output.appendingPathComponent("demo.json")
    if !FileManager.default.fileExists(atPath: recordURL.path) {
      // Marks the folder as a demo's from the start, so a killed retrain's output is recognised and resumed.
      try FileAccess.createFolder(parameters.output)
      try AtomicFile.write(Data(#"{"status": "started"}"#.utf8), to: recordURL)
    }
    var seconds: [(phase: String, seconds: Double)] = []
    func timed<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
      let start = Date()
      defer { seconds.append((name, Date().timeIntervalSince(start))) }
      return try body()
    }
    let teacherFolder: URL, registryFolder: URL
    if let teacherRecipe = parameters.teacherRecipe {
      teacherFolder = parameters.output.appendingPathComponent("teacher")
      registryFolder = parameters.output.appendingPathComponent("registry")
      try timed("teacher") {
        let start: TrainingStart = TrainingCheckpoint.exists(at: teacherFolder) ? .resume : .fresh
        try TeacherTraining.run(
          TeacherTrainingParameters(recipe: teacherRecipe, output: teacherFolder, start: start)) { try events(.teacher($0)) }
      }
      try timed("modules") {
        let checkpoint = registryFolder.appendingPathComponent(ModuleTraining.checkpointFolderName)
        let unfinished = TrainingCheckpoint.exists(at: checkpoint)
        if !unfinished, ModuleRegistry.exists(at: registryFolder), !(try ModuleRegistry.open(at: registryFolder).entries.isEmpty) {
          try events(.reusingModules(registry: registryFolder))
          return
        }
        try ModuleTraining.run(
          ModuleTrainingParameters(
            teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: parameters.modulesRecipe,
            start: unfinished ? .resume : .fresh, recipePath: parameters.modulesRecipePath, command: parameters.command)
        ) { try events(.modules($0)) }
      }
      if let baselines = parameters.baselines {
        try timed("baselines") {
          let folder = parameters.output.appendingPathComponent(baselinesFolderName)
          try BaselineSweep.run(
            BaselineSweepParameters(
              teacherFolder: teacherFolder, recipe: baselines.recipe, methods: baselines.methods, ratios: baselines.ratios,
              output: folder, start: FileManager.default.fileExists(atPath: folder.path) ? .resume : .fresh)
          ) { try events(.baselines($0)) }
        }
      }
    } else {
      teacherFolder = parameters.shipped.appendingPathComponent("teacher")
      registryFolder = parameters.shipped.appendingPathComponent("registry")
      guard ModuleRegistry.exists(at: registryFolder) else {
        throw TrainingError("\(registryFolder.path) holds no registry")
      }
    }

    let results = try timed("compare") { () throws -> ComparisonResults in
      var data = parameters.modulesRecipe.data
      data.testExamples = max(data.testExamples, parameters.count)
      let examples = Array(try data.examples(.test).prefix(parameters.count))
      let validation = Array(try data.examples(.valid).prefix(MeasuredAssemblyCandidate.validationCount))
      var settings = parameters.comparison
      settings.dataName = "\(data.displayName), test split"
      let registry = try ModuleRegistry.open(at: registryFolder)
      let teacher = try ModelLoading.load(from: teacherFolder)
      try events(.comparing(teacher: teacher, registry: registry, examples: examples.count))
      var failure: Error?
      let results = try Comparison.run(
        teacher: teacher, teacherFolder: teacherFolder, registry: registry, tokenizer: try loadTokenizer(from: teacherFolder, fitting: teacher),
        examples: examples, validationExamples: validation, settings: settings, baselinesFolder: baselinesFolder(parameters)
      ) { progress in
        do { try events(.comparison(progress)) } catch { failure = failure ?? error }
      }
      if let failure { throw failure }
      try ComparisonReport.write(results, to: parameters.output.appendingPathComponent("report"))
      return results
    }

    let record: [String: Any] = [
      "command": parameters.command ?? "", "retrained": parameters.teacherRecipe != nil, "teacher": teacherFolder.path,
      "registry": registryFolder.path,
      "seconds": Dictionary(uniqueKeysWithValues: seconds.map { ($0.phase, ($0.seconds * 10).rounded() / 10) }),
    ]
    try AtomicFile.write(
      try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]),
      to: recordURL)
    return DemoResult(teacherFolder: teacherFolder, registryFolder: registryFolder, results: results, seconds: seconds)
  }
}
