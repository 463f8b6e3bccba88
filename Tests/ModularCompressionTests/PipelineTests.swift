import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

/// The library's pipelines end to end, in process, at tiny sizes.
final class PipelineTests: TinyPipelineTestCase {
  /// A 4+4-layer, 16-wide T5 trained for a few steps.
  private func trainTeacher(start: TrainingStart = .fresh) throws -> (folder: URL, steps: Int) {
    let recipe = tinyTeacherRecipe
    let teacher = folder.appendingPathComponent("teacher")
    var steps = 0
    let state = try TeacherTraining.run(TeacherTrainingParameters(recipe: recipe, output: teacher, start: start)) { event in
      if case .step = event { steps += 1 }
    }
    XCTAssertEqual(state.losses.count, 3)
    return (teacher, steps)
  }

  private func modulesRecipe(probeExamples: Int = 3) -> ModulesRecipe {
    var recipe = ModulesRecipe()
    recipe.data = data
    recipe.modules.granularities = [2, 4]
    recipe.modules.sampling = .mixed
    recipe.modules.steps = 3
    recipe.modules.checkpointEvery = 2
    recipe.modules.probeExamples = probeExamples
    return recipe
  }

  /// A granularity no stack of the teacher can hold is refused before any
  /// training, naming the field (it used to train nothing and register nothing).
  func testGranularityDeeperThanTheTeacherIsRefused() throws {
    let teacher = try trainTeacher().folder
    var recipe = modulesRecipe()
    recipe.modules.granularities = [13]
    let registry = folder.appendingPathComponent("registry")
    XCTAssertThrowsError(
      try ModuleTraining.run(ModuleTrainingParameters(teacherFolder: teacher, registryFolder: registry, recipe: recipe))
    ) { error in
      XCTAssertTrue("\(error)".contains("field 'modules.granularities': no granularity of [13] fits"), "\(error)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: registry.appendingPathComponent("manifest.json").path))
  }

  /// teacher → modules → registry → assemble → compare, asserting on what each step wrote.
  func testTeacherModulesRegistryAssembleCompare() throws {
    let (teacherFolder, steps) = try trainTeacher()
    XCTAssertEqual(steps, 3)
    let registryFolder = folder.appendingPathComponent("registry")
    var registered = 0
    let registry = try XCTUnwrap(ModuleTraining.run(
      ModuleTrainingParameters(teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: modulesRecipe())
    ) { event in
      if case .registered(let count) = event { registered = count }
    })
    XCTAssertEqual(registered, 6)  // g2: 2 + 2, g4: 1 + 1
    XCTAssertEqual(
      try ModuleRegistry.open(at: registryFolder).entries.map(\.id).sorted(),
      ["decoder.g2.0", "decoder.g2.1", "decoder.g4.0", "encoder.g2.0", "encoder.g2.1", "encoder.g4.0"])
    XCTAssertTrue(registry.entries.allSatisfy { $0.validation != nil }, "every module probed")
    XCTAssertGreaterThan(registry.entries.map(\.provenance.steps).reduce(0, +), 0, "the provenance counts the training steps")
    XCTAssertNotNil(registry.manifest.teacherValidation)
    XCTAssertFalse(FileManager.default.fileExists(
      atPath: registryFolder.appendingPathComponent(ModuleTraining.checkpointFolderName).path))
    // Training the same spans again would replace the trained modules: only a restart may.
    XCTAssertThrowsError(try ModuleTraining.run(
      ModuleTrainingParameters(teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: modulesRecipe(probeExamples: 0)))
    ) { error in
      XCTAssertEqual((error as? TrainingStartError)?.kind, .earlierRun, "\(error)")
      XCTAssertTrue("\(error)".contains("decoder.g2.0"), "\(error)")
    }

    let teacher = try ModelLoading.load(from: teacherFolder)
    let fingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    let planner = AssemblyPlanner(costs: LayerCosts(teacher: teacher), catalog: registry)
    let planned = try planner.plan(strategy: .speedFirst, ratio: 2)
    let assemblyFolder = folder.appendingPathComponent("assembly")
    try Assembler.assemble(
      planned, teacher: teacher, loadBlock: { try registry.loadBlock($0, for: teacher, teacherFingerprint: fingerprint) },
      to: assemblyFolder, tokenizer: try loadTokenizer(from: teacherFolder), registryFingerprint: try registry.fingerprint(),
      teacherFingerprint: fingerprint)
    let assembled = try ModelLoading.load(from: assemblyFolder)
    XCTAssertEqual(assembled.encoder.depth, planned.plan.encoder.count)
    XCTAssertEqual(assembled.decoder.depth, planned.plan.decoder.count)
    XCTAssertLessThan(assembled.encoder.depth + assembled.decoder.depth, 8)

    let examples = Array(try data.examples(.test).prefix(3))
    let settings = ComparisonSettings(
      ratios: [2], strategies: [.speedFirst], latencyExamples: 1, throughputBatch: 4, profileLatency: false)
    let results = try Comparison.run(
      teacher: teacher, teacherFolder: teacherFolder, registry: registry, tokenizer: try loadTokenizer(from: teacherFolder),
      examples: examples, settings: settings)
    let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(results)) as? [String: Any]
    let kinds = try XCTUnwrap(json?["rows"] as? [[String: Any]]).compactMap { $0["kind"] as? String }
    XCTAssertEqual(Set(kinds), ["teacher", "assembly", "layer-dropping"], "\(kinds)")
  }

  /// Each module run records its final steps, tokens and seconds in the
  /// registry's training-cost.json; a second run into the registry appends.
  func testModuleRunsRecordTheirCostInTheRegistry() throws {
    let (teacherFolder, _) = try trainTeacher()
    let registryFolder = folder.appendingPathComponent("registry")
    let fingerprint = try TeacherFingerprint.of(modelFolder: teacherFolder)
    var recipe = modulesRecipe(probeExamples: 0)
    recipe.modules.granularities = [2]
    try ModuleTraining.run(
      ModuleTrainingParameters(teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: recipe, command: "first"))
    let first = try XCTUnwrap(try ModuleTrainingCost.read(inRegistry: registryFolder, teacherFingerprint: fingerprint))
    XCTAssertEqual(first.runs.map(\.granularities), [[2]])
    XCTAssertEqual(first.runs.map(\.steps), [3])
    XCTAssertEqual(first.runs.map(\.command), ["first"])
    XCTAssertGreaterThan(first.runs[0].tokens, 0)
    XCTAssertGreaterThan(first.runs[0].seconds, 0)

    recipe.modules.granularities = [4]
    recipe.modules.steps = 2
    try ModuleTraining.run(
      ModuleTrainingParameters(teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: recipe, command: "second"))
    let both = try XCTUnwrap(try ModuleTrainingCost.read(inRegistry: registryFolder, teacherFingerprint: fingerprint))
    XCTAssertEqual(both.runs.map(\.granularities), [[2], [4]])
    XCTAssertEqual(both.runs.first, first.runs.first, "the first run is kept")
    XCTAssertEqual(both.total.steps, 5)
    XCTAssertEqual(try ModuleRegistry.open(at: registryFolder).verify(), [])
  }

  /// A retrained demo trains teacher, modules and its baselines, then compares all of them.
  func testDemoRetrainTrainsBaselinesAndComparesThem() throws {
    var baselines = BaselineRecipe()
    baselines.data = data
    baselines.training.steps = 2
    baselines.training.warmupSteps = 1
    var comparison = ComparisonSettings(ratios: [2], strategies: [.sizeFirst])
    comparison.latencyExamples = 1
    let parameters = DemoParameters(
      output: folder.appendingPathComponent("demo"), teacherRecipe: tinyTeacherRecipe, modulesRecipe: modulesRecipe(probeExamples: 0),
      shipped: folder.appendingPathComponent("unused"), comparison: comparison, count: 2,
      baselines: DemoBaselines(recipe: baselines, methods: [.sft], ratios: [2]))
    let result = try Demo.run(parameters)
    XCTAssertEqual(result.seconds.map(\.phase), ["teacher", "modules", "baselines", "compare"])
    XCTAssertEqual(result.results.rows.filter { $0.kind == BaselineCandidate.kind }.map(\.label), ["sft 2×"])
    let ledger = try XCTUnwrap(result.results.ledger)
    XCTAssertEqual(ledger.modules.steps, 3)
    XCTAssertEqual(ledger.baselines.map(\.method), ["sft"])
    XCTAssertEqual(ledger.baselines.first?.steps, 2)
    // A second run reuses everything it trained.
    let again = try Demo.run(parameters)
    XCTAssertEqual(again.results.rows.map(\.label), result.results.rows.map(\.label))
  }

  /// A run stopped during the final probe leaves its checkpoint; a fresh start
  /// is refused, and resuming finishes the probe with the same modules.
  func testModuleTrainingStoppedInTheProbeFinishesOnResume() throws {
    let (teacherFolder, _) = try trainTeacher()
    let registryFolder = folder.appendingPathComponent("registry")
    struct Stop: Error {}
    let parameters = ModuleTrainingParameters(
      teacherFolder: teacherFolder, registryFolder: registryFolder, recipe: modulesRecipe())
    XCTAssertThrowsError(try ModuleTraining.run(parameters) { event in
      if case .probing(let done, _) = event, done == 3 { throw Stop() }
    }) { XCTAssertTrue($0 is Stop, "\($0)") }
    let stopped = try ModuleRegistry.open(at: registryFolder)
    XCTAssertEqual(stopped.entries.count, 6)
    XCTAssertTrue(stopped.entries.contains { $0.validation == nil }, "the probe was cut short")
    let checksums = stopped.entries.map(\.sha256)

    XCTAssertThrowsError(try ModuleTraining.run(parameters)) { error in
      XCTAssertEqual((error as? TrainingStartError)?.kind, .earlierRun, "\(error)")
    }
    var resumedAt: Int?
    var resume = parameters
    resume.start = .resume
    let finished = try XCTUnwrap(ModuleTraining.run(resume) { event in
      if case .started(_, _, _, _, let step) = event { resumedAt = step }
    })
    XCTAssertEqual(resumedAt, 3, "the training itself was complete")
    XCTAssertTrue(finished.entries.allSatisfy { $0.validation != nil }, "every module probed")
    XCTAssertEqual(finished.entries.map(\.sha256), checksums, "the same modules")
    XCTAssertFalse(FileManager.default.fileExists(
      atPath: registryFolder.appendingPathComponent(ModuleTraining.checkpointFolderName).path))
  }

  /// Over a trained teacher: fresh is refused, restart trains again; a folder
  /// with files Tessera did not write is refused even for a restart; resuming nothing is refused.
  func testTeacherOutputRules() throws {
    _ = try trainTeacher()
    XCTAssertThrowsError(try trainTeacher()) { XCTAssertEqual(($0 as? TrainingStartError)?.kind, .earlierRun, "\($0)") }
    XCTAssertEqual(try trainTeacher(start: .restart).steps, 3)
    XCTAssertEqual(try trainTeacher(start: .resume).steps, 0, "a finished run has nothing left")

    let notes = folder.appendingPathComponent("teacher/notes.txt")
    try Data("mine".utf8).write(to: notes)
    XCTAssertThrowsError(try trainTeacher(start: .restart)) { error in
      XCTAssertTrue(error is OutputFolderError, "\(error)")
      XCTAssertTrue("\(error)".contains("notes.txt"), "\(error)")
    }
    XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "mine")

    try FileManager.default.removeItem(at: folder.appendingPathComponent("teacher"))
    XCTAssertThrowsError(try trainTeacher(start: .resume)) {
      XCTAssertEqual(($0 as? TrainingStartError)?.kind, .nothingToResume, "\($0)")
    }
  }
}
