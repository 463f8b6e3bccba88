import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

/// The compare and assemble pipelines as library calls: one latency profile,
/// the same plans, report folders replaced whole, no NaN in results.
final class ComparisonPipelineTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("ComparisonPipelineTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// Writes a profile in which encoder layers are far dearer than decoder
  /// layers: the opposite of what parameter counts suggest.
  func keepDearEncoderProfile(_ fixture: ComparisonFixture) throws {
    let teacher = fixture.teacher
    let profile = LatencyProfile(
      formatVersion: LatencyProfile.currentFormatVersion, teacherFingerprint: fixture.registry.teacherFingerprint,
      sourceTokens: 32, generatedTokens: 32, encoderLayerSeconds: 1, decoderLayerSeconds: 0.001,
      encoderLayerParameters: teacher.encoder.blocks[0].parameterCount,
      decoderLayerParameters: teacher.decoder.blocks[0].parameterCount, blas: "test", threads: 1, measured: "2026-01-01T00:00:00Z")
    try profile.write(to: fixture.registry.folder)
  }

  func testAssembleAndCompareChooseTheSamePlanForEveryStrategyAndRatio() throws {
    let fixture = try ComparisonFixture(in: directory, granularities: [2, 4])
    try keepDearEncoderProfile(fixture)
    let ratios = [1.1, 1.5, 2, 3, 4, 8]
    let settings = ComparisonSettings(
      ratios: ratios, strategies: AssemblyStrategy.allCases, includeLayerDropping: false, latencyExamples: 1, throughputBatch: 8)
    let results = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, teacherFolder: fixture.teacherFolder,
        examples: Array(ComparisonFixture.examples.prefix(2)), settings: settings))
    XCTAssertEqual(results.latencyProfile.encoderLayerSeconds, 1, "compare plans with the kept profile")

    var compared = 0
    for strategy in AssemblyStrategy.allCases {
      for ratio in ratios {
        let label = "\(strategy) \(formatRatio(ratio))×"
        let row = try XCTUnwrap(results.rows.first { $0.label == label }, label)
        let out = directory.appendingPathComponent("assembled-\(strategy)-\(ratio)")
        let assemble = {
          try Assembler.run(
            AssemblyParameters(
              registryFolder: fixture.registry.folder, recipe: AssemblyRecipe(strategy: strategy, ratio: ratio),
              recipeSource: label, out: out))
        }
        if let skipped = row.skipped {
          XCTAssertThrowsError(try assemble(), label) { XCTAssertTrue("\($0)".contains("cannot be reached"), "\(label): \($0) / \(skipped)") }
          continue
        }
        let outcome = try assemble()
        XCTAssertFalse(outcome.isNewLatencyProfile)
        XCTAssertEqual(outcome.planned.plan.summary, row.plan, label)
        XCTAssertEqual(outcome.report.cost.layerParameters, row.cost?.layerParameters, label)
        compared += 1
      }
    }
    XCTAssertGreaterThanOrEqual(compared, 12)
    // With encoder layers dear, pareto takes the one module it needs at 1.1× from the encoder;
    // parameter-count estimates (the decoder runs once per token) would take it from the decoder.
    let pareto = try XCTUnwrap(results.rows.first { $0.label == "pareto 1.1×" }?.plan)
    XCTAssertTrue(pareto.hasSuffix("| dec L0 L1 L2 L3") && pareto.contains("M2["), pareto)
  }

  func testLatencyProfileIsMeasuredOnceKeptAndTiedToTheTeacher() throws {
    let fixture = try ComparisonFixture(in: directory)
    let file = fixture.registry.folder.appendingPathComponent(LatencyProfile.fileName)
    func context(_ latency: LatencySource) throws -> PlanningContext {
      try PlanningContext(teacher: fixture.teacher, teacherFolder: fixture.teacherFolder, registry: fixture.registry, latency: latency)
    }
    let first = try context(.keptProfile)
    XCTAssertTrue(first.isNewLatencyProfile)
    XCTAssertTrue(FileManager.default.fileExists(atPath: file.path))
    let again = try context(.keptProfile)
    XCTAssertFalse(again.isNewLatencyProfile, "kept, not measured again")
    XCTAssertEqual(again.latencyProfile, first.latencyProfile)
    XCTAssertEqual(again.planner.latency, first.planner.latency)
    XCTAssertEqual(first.latencyProfile?.teacherFingerprint, fixture.registry.teacherFingerprint)
    XCTAssertTrue(try context(.remeasure).isNewLatencyProfile)
    XCTAssertNil(try context(.estimate).latencyProfile)

    // A profile for another teacher, a bad value or an unknown field is an error naming the file and field.
    let valid = try Data(contentsOf: file)
    let text = String(decoding: valid, as: UTF8.self)
    for (edited, field) in [
      (text.replacingOccurrences(of: fixture.registry.teacherFingerprint, with: String(repeating: "0", count: 64)), "teacher_fingerprint"),
      (text.replacingOccurrences(of: "\"threads\"", with: "\"thread\""), "thread"),
      ("[1, 2]", "not a JSON object"),
    ] {
      try Data(edited.utf8).write(to: file)
      XCTAssertThrowsError(try context(.keptProfile), field) { error in
        XCTAssertTrue("\(error)".contains(file.path) && "\(error)".contains(field), "\(error)")
        XCTAssertTrue("\(error)".contains("--remeasure-latency"), "\(error)")
      }
    }
    try Data(text.replacingOccurrences(of: "\"source_tokens\" : 32", with: "\"source_tokens\" : 0").utf8).write(to: file)
    XCTAssertThrowsError(try context(.keptProfile)) { XCTAssertTrue("\($0)".contains("source_tokens"), "\($0)") }
    XCTAssertTrue(try context(.remeasure).isNewLatencyProfile, "asking replaces a broken profile")
    XCTAssertNoThrow(try context(.keptProfile))
  }

  func testCostsAreCountedFromTheModelsOwnLayers() throws {
    // Encoder layer 1 is wider than the others (as a replaced kind of layer may be).
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 3)
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (24, 16, 4, 64, 2)
    (config.numLayers, config.numDecoderLayers, config.relativeAttentionNumBuckets, config.dropoutRate) = (1, 1, 8, 0)
    var generator = SeededRandom(seed: 4)
    let wide = T5Model(config, using: &generator)
    teacher.encoder.blocks[1] = wide.encoder.blocks[0]
    XCTAssertNotEqual(teacher.encoder.blocks[1].parameterCount, teacher.encoder.blocks[0].parameterCount)

    let costs = LayerCosts(teacher: teacher)
    XCTAssertEqual(costs.teacherLayerParameterTotal, teacher.layerParameterCount)
    let whole = costs.cost(of: .teacher(encoderDepth: 4, decoderDepth: 4))
    XCTAssertEqual(whole.totalParameters, teacher.parameterCount)
    XCTAssertEqual(whole.encoderLayerParameters, teacher.encoder.blocks.reduce(0) { $0 + $1.parameterCount })
    XCTAssertEqual(costs.cost(ofModel: teacher), whole)

    // Layer dropping sizes the layers it keeps by their own counts.
    let plan = try StudentShape.plan(costs: costs, ratio: 1.5)
    let kept = plan.encoder.map { piece -> Int in
      guard case .teacher(let layer) = piece else { return 0 }
      return teacher.encoder.blocks[layer].parameterCount
    }
    XCTAssertEqual(costs.cost(of: plan).encoderLayerParameters, kept.reduce(0, +), plan.summary)
    XCTAssertGreaterThanOrEqual(costs.cost(of: plan).layerParameterRatio, 1.5)
  }

  /// Minimal results whose teacher row's plan names `run`, to tell reports apart.
  func results(_ run: String) -> ComparisonResults {
    var row = ComparisonRow(kind: ComparisonRow.teacherKind)
    row.plan = run
    return ComparisonResults(
      formatVersion: ComparisonResults.currentFormatVersion, settings: ComparisonSettings(),
      teacher: .init(modelType: "t5", path: nil, fingerprint: nil, encoderDepth: 1, decoderDepth: 1, parameters: 1, layerParameters: 1),
      registry: .init(path: "r", fingerprint: nil, modules: 0, reachableRatios: []),
      data: .init(name: run, examples: 1, medianSourceTokens: 1, medianTargetTokens: 1),
      latencyProfile: .init(sourceTokens: 1, generatedTokens: 1), environment: .init(blas: "none", threads: 1), rows: [row])
  }

  func testReportFolderIsReplacedWholeNeverMixed() throws {
    let out = directory.appendingPathComponent("report")
    try ComparisonReport.write(results("run A"), to: out)
    let before = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
    XCTAssertEqual(before, ["plot.svg", "report.md", "results.csv", "results.json"])
    let markdownA = try Data(contentsOf: out.appendingPathComponent("report.md"))

    // A second run that dies after writing part of its report changes nothing.
    struct Killed: Error {}
    XCTAssertThrowsError(
      try ReportFolder.replace(out) { staging in
        try AtomicFile.write(try self.results("run B").jsonData(), to: staging.appendingPathComponent("results.json"))
        throw Killed()
      })
    let kept = try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent("results.json")))
    XCTAssertEqual(kept.data.name, "run A")
    XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("report.md")), markdownA)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["report"], "no staging left")

    // A leftover of a killed run is cleaned by the next successful one.
    let leftover = directory.appendingPathComponent(".report.partial-999999-x")
    try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: false)
    try ComparisonReport.write(results("run C"), to: out)
    XCTAssertEqual(try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent("results.json"))).data.name, "run C")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["report"])
  }

  func testForeignOutputFoldersAreRefusedAndKept() throws {
    let fixture = try ComparisonFixture(in: directory)
    let manifest = try Data(contentsOf: fixture.registry.manifestURL)
    let notes = directory.appendingPathComponent("notes")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: false)
    try Data("mine".utf8).write(to: notes.appendingPathComponent("todo.txt"))
    let file = directory.appendingPathComponent("plain.txt")
    try Data("mine".utf8).write(to: file)

    for (target, expected) in [
      (fixture.registry.folder, "module registry"), (notes, "'todo.txt'"), (file, "is a file"),
      (fixture.teacherFolder, "refusing to write"),
    ] {
      XCTAssertThrowsError(try ComparisonReport.write(results("x"), to: target)) {
        XCTAssertTrue("\($0)".contains(target.path) && "\($0)".contains(expected), "\($0)")
      }
      XCTAssertThrowsError(
        try Comparison.run(
          ComparisonParameters(
            registryFolder: fixture.registry.folder, examples: ComparisonFixture.examples, reportFolder: target)))
      XCTAssertThrowsError(
        try Assembler.run(
          AssemblyParameters(
            registryFolder: fixture.registry.folder, recipe: AssemblyRecipe(strategy: .sizeFirst, ratio: 2),
            recipeSource: "test", out: target))
      ) { XCTAssertTrue("\($0)".contains(target.path), "\($0)") }
    }
    XCTAssertEqual(try Data(contentsOf: fixture.registry.manifestURL), manifest)
    XCTAssertEqual(fixture.registry.verify(), [])
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("todo.txt"), encoding: .utf8), "mine")
    XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "mine")
    XCTAssertNoThrow(try ModelLoading.load(from: fixture.teacherFolder))

    // An assembly Tessera wrote may be replaced by another.
    let out = directory.appendingPathComponent("assembled")
    for ratio in [2.0, 1.5] {
      let outcome = try Assembler.run(
        AssemblyParameters(
          registryFolder: fixture.registry.folder, recipe: AssemblyRecipe(strategy: .sizeFirst, ratio: ratio),
          recipeSource: "test", out: out))
      XCTAssertEqual(try AssemblyReport.load(from: out).requestedRatio, ratio)
      XCTAssertEqual(outcome.report.requestedRatio, ratio)
    }
  }

  func testNonFiniteLossIsAnErrorNamingModelAndExample() throws {
    let tokenizer = ByteTokenizer()
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (tokenizer.vocabularySize, 16, 4, 32, 2)
    (config.numLayers, config.relativeAttentionNumBuckets, config.dropoutRate, config.tieWordEmbeddings) = (1, 8, 0, false)
    var generator = SeededRandom(seed: 3)
    let model = T5Model(config, using: &generator)
    // '7' appears only in example 2 ("2+7" → "9"): with an untied head, a NaN
    // in its input embedding poisons that example alone.
    let seven = tokenizer.encodeWithoutSpecialTokens("7")[0]
    let shared = try XCTUnwrap(model.uniqueNamedParameters().first { $0.key == "shared.weight" }?.parameter)
    var values = shared.value.scalars
    values[seven * model.modelWidth] = .nan
    shared.value = Tensor(values, shape: shared.value.shape)
    XCTAssertThrowsError(
      try ModelEvaluation.run(model: model, tokenizer: tokenizer, examples: ComparisonFixture.examples, modelName: "pareto 2×")
    ) { error in
      guard case .nonFiniteLoss(let name, let example, let source, _)? = error as? EvaluationError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual([name, source], ["pareto 2×", "2+7"])
      XCTAssertEqual(example, 2)
      XCTAssertTrue("\(error)".contains("example 2"), "\(error)")
    }
  }

  /// A kind of candidate the report and plot have never heard of.
  struct CopyCandidate: ComparisonCandidate {
    func rows(in context: ComparisonContext) -> [CandidateRow] {
      context.settings.ratios.map { ratio in
        var row = ComparisonRow(kind: "copy", requestedRatio: ratio)
        row.plan = "a copy of the teacher"
        return CandidateRow(row: row, identity: "copy \(ratio)") { _ in
          BuiltCandidate(model: try LayerDropping.apply(.teacher(encoderDepth: 4, decoderDepth: 4), to: context.teacher))
        }
      }
    }
  }

  func testNewCandidateKindsNeedNoChangeInReportOrPlot() throws {
    let fixture = try ComparisonFixture(in: directory)
    let out = directory.appendingPathComponent("report")
    let results = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, examples: Array(ComparisonFixture.examples.prefix(2)),
        settings: ComparisonSettings(ratios: [2], strategies: [.sizeFirst], latencyExamples: 1, throughputBatch: 8),
        reportFolder: out, candidates: [AssemblyCandidate(), CopyCandidate()]))
    XCTAssertEqual(results.rows.map(\.label), ["teacher", "size-first 2×", "copy 2×"])
    XCTAssertEqual(results.rows.map(\.kind), ["teacher", "assembly", "copy"])
    let copy = try XCTUnwrap(results.rows.last)
    XCTAssertTrue(copy.isMeasured)
    XCTAssertEqual(copy.cost?.layerParameterRatio, 1, "sized from the built model, not from a ratio")

    let json = try Data(contentsOf: out.appendingPathComponent("results.json"))
    XCTAssertEqual(try ComparisonResults.decode(json), results)
    let doubled = #"{"teacher": 1, "teacher": 2, "# + String(decoding: json, as: UTF8.self).drop { $0 != "{" }.dropFirst()
    XCTAssertThrowsError(try ComparisonResults.decode(Data(doubled.utf8))) { error in
      XCTAssertTrue("\(error)".contains("duplicate key 'teacher'"), "\(error)")
    }
    let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
    XCTAssertTrue(csv.contains("\ncopy 2×,copy,,2.0,"), csv)
    XCTAssertTrue(csv.contains("\nsize-first 2×,assembly,size-first,2.0,"), csv)
    let markdown = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    let atTwo = try XCTUnwrap(markdown.split(separator: "\n").first { $0.hasPrefix("- **2×:**") })
    XCTAssertTrue(atTwo.contains("copy 2× (") && atTwo.contains("size-first 2× ("), String(atTwo))
    let svg = try String(contentsOf: out.appendingPathComponent("plot.svg"), encoding: .utf8)
    XCTAssertTrue(svg.contains(">copy</text>") && svg.contains("#9467bd"), "its own legend entry and default colour")
  }

  func testOlderResultsStillDecode() throws {
    // Format 1 had a closed kind, `strategy` and no labels.
    let old = """
      {"kind": "assembly", "strategy": "speed-first", "requested_ratio": 2, "skipped": null, "same_model_as": null,
       "plan": "enc L0 | dec L0", "cost": null, "quality": null, "timing": null, "predicted_loss_increase": null,
       "estimated_speedup": null, "on_speed_front": false, "on_size_front": false}
      """
    let row = try JSONDecoder().decode(ComparisonRow.self, from: Data(old.utf8))
    XCTAssertEqual([row.kind, row.method, row.label], ["assembly", "speed-first", "speed-first 2×"])
    XCTAssertEqual(row.strategy, .speedFirst)
    let dropped = try JSONDecoder().decode(
      ComparisonRow.self, from: Data(#"{"kind": "layer-dropping", "requested_ratio": 1.5}"#.utf8))
    XCTAssertEqual(dropped.label, "layer-drop 1.5×")
  }
}
