import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import XCTest

final class AssemblerTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("AssemblerTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// A 4+4-layer, 16-wide T5.
  func tinyT5() -> T5Model { TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 7) }

  /// A 2+4-layer, 16-wide BART.
  func tinyBart() -> BartModel { TinyTeachers.bart(encoderLayers: 2, decoderLayers: 4, seed: 3) }

  let batch = Seq2SeqBatch(
    batchSize: 2, sourceLength: 4, sourceIDs: [5, 6, 7, 1, 9, 10, 1, 0], sourceKeep: [1, 1, 1, 1, 1, 1, 1, 0],
    targetLength: 4, decoderInputIDs: [0, 5, 6, 7, 0, 9, 10, 1], labels: [5, 6, 7, 1, 9, 10, 1, -100])

  /// Randomly initialised modules for every g2 and g4 span of `teacher`.
  func modules(for teacher: any Seq2SeqModel) -> [ModuleSpan: any TransformerBlock] {
    var generator = SeededRandom(seed: 11)
    var blocks: [ModuleSpan: any TransformerBlock] = [:]
    for stack in [teacher.encoder, teacher.decoder] {
      for g in [2, 4] {
        for span in ModuleSpan.spans(stack: stack.role, depth: stack.depth, granularity: g) {
          blocks[span] = stack.makeBlock(using: &generator)
        }
      }
    }
    return blocks
  }

  func testAssembledTinyT5RunsSavesAndReloads() throws {
    let teacher = tinyT5()
    let teacherLogits = teacher.forward(batch).scalars
    let teacherWeights = teacher.stateDictionary()
    let blocks = modules(for: teacher)
    var loaded: [ModuleSpan] = []
    let catalog = StaticModuleCatalog(blocks.mapValues { ModuleFacts(parameters: $0.parameterCount) })
    let planner = AssemblyPlanner(costs: LayerCosts(teacher: teacher), catalog: catalog)
    let planned = try planner.plan(strategy: .speedFirst, ratio: 2)
    XCTAssertEqual(planned.plan.summary, "enc L0 L1 M2[2-3] | dec M4[0-3]")

    let folder = directory.appendingPathComponent("assembled")
    let (model, report) = try Assembler.assemble(
      planned, teacher: teacher,
      loadBlock: { span in
        loaded.append(span)
        return blocks[span]!
      }, to: folder, registryFingerprint: "registry-abc", teacherFingerprint: "teacher-123")
    XCTAssertEqual(loaded.sorted(), [ModuleSpan(id: "decoder.g4.0")!, ModuleSpan(id: "encoder.g2.1")!])
    XCTAssertEqual(model.encoder.depth, 3)
    XCTAssertEqual(model.decoder.depth, 1)
    // Sizes agree with the model itself.
    XCTAssertEqual(report.cost.layerParameters, model.layerParameterCount)
    XCTAssertEqual(report.cost.totalParameters, model.parameterCount)
    XCTAssertEqual(report.cost.teacherTotalParameters, teacher.parameterCount)
    XCTAssertEqual(report.cost.layerParameterRatio, Double(teacher.layerParameterCount) / Double(model.layerParameterCount), accuracy: 1e-12)
    XCTAssertGreaterThanOrEqual(report.cost.layerParameterRatio, 2)
    // Kept layers carry the teacher's weights; modules are copies of what was loaded.
    XCTAssertEqual(model.encoder.blocks[1].stateDictionary().mapValues(\.scalars), teacher.encoder.blocks[1].stateDictionary().mapValues(\.scalars))
    XCTAssertFalse(model.encoder.blocks[1] === teacher.encoder.blocks[1])
    XCTAssertFalse(model.decoder.blocks[0] === blocks[ModuleSpan(id: "decoder.g4.0")!]!)
    XCTAssertEqual(model.decoder.blocks[0].stateDictionary().mapValues(\.scalars), blocks[ModuleSpan(id: "decoder.g4.0")!]!.stateDictionary().mapValues(\.scalars))

    let logits = model.forward(batch)
    XCTAssertEqual(logits.shape, [2, 4, 24])
    XCTAssertTrue(logits.scalars.allSatisfy(\.isFinite))
    XCTAssertNotEqual(logits.scalars, teacherLogits)

    // The teacher is unchanged.
    XCTAssertEqual(teacher.encoder.depth, 4)
    XCTAssertEqual(teacher.decoder.depth, 4)
    XCTAssertEqual(teacher.forward(batch).scalars, teacherLogits)
    XCTAssertEqual(teacher.stateDictionary().mapValues(\.scalars), teacherWeights.mapValues(\.scalars))

    // The folder reloads with the same logits and carries assembly.json.
    let reloaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(reloaded.encoder.depth, 3)
    XCTAssertEqual(reloaded.decoder.depth, 1)
    XCTAssertEqual(reloaded.forward(batch).scalars, logits.scalars)
    let written = try AssemblyReport.load(from: folder)
    XCTAssertEqual(written, report)
    XCTAssertEqual(written.strategy, "speed-first")
    XCTAssertEqual(written.requestedRatio, 2)
    XCTAssertEqual(written.registryFingerprint, "registry-abc")
    XCTAssertEqual(written.teacherFingerprint, "teacher-123")
    XCTAssertEqual(written.layers, AssemblyReport.Layers(encoder: 3, decoder: 1, teacherEncoder: 4, teacherDecoder: 4))
    XCTAssertEqual(written.plan, planned.plan)
    let text = String(decoding: try Data(contentsOf: folder.appendingPathComponent("assembly.json")), as: UTF8.self)
    XCTAssertTrue(text.contains("\"latency_speedup\" : null"), text)
    XCTAssertTrue(text.contains("\"module\" : \"encoder.g2.1\""), text)

    // A measured speedup is written back atomically.
    var measured = written
    measured.cost.latencySpeedup = 2.5
    try measured.write(into: folder)
    XCTAssertEqual(try AssemblyReport.load(from: folder).cost.latencySpeedup, 2.5)
  }

  func testAssembledBartReloadsWithEqualLogits() throws {
    let teacher = tinyBart()
    let teacherLogits = teacher.forward(batch).scalars
    let blocks = modules(for: teacher)
    let planner = AssemblyPlanner(
      costs: LayerCosts(teacher: teacher), catalog: StaticModuleCatalog(blocks.mapValues { ModuleFacts(parameters: $0.parameterCount) }))
    let planned = try planner.plan(strategy: .sizeFirst, ratio: 1.5)
    XCTAssertEqual(planned.plan.summary, "enc L0 L1 | dec M2[0-1] M2[2-3]")
    let folder = directory.appendingPathComponent("bart")
    let (model, _) = try Assembler.assemble(
      planned, teacher: teacher, loadBlock: { blocks[$0]! }, to: folder, registryFingerprint: nil, teacherFingerprint: nil)
    let reloaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(reloaded.decoder.depth, 2)
    XCTAssertEqual(reloaded.forward(batch).scalars, model.forward(batch).scalars)
    XCTAssertEqual(teacher.forward(batch).scalars, teacherLogits)
    let report = try AssemblyReport.load(from: folder)
    XCTAssertNil(report.registryFingerprint)
    XCTAssertEqual(report.strategy, "size-first")
  }

  func testAssemblerRefusesBadPlansAndForeignBlocks() throws {
    let teacher = tinyT5()
    let g2 = ModuleSpan(stack: .encoder, granularity: 2, index: 0)
    let short = AssemblyPlan(encoder: [.module(g2)], decoder: (0..<4).map { .teacher(layer: $0) })
    XCTAssertThrowsError(try Assembler.assemble(teacher: teacher, plan: short, loadBlock: { _ in teacher.encoder.blocks[0] })) {
      guard case .invalidPlan = $0 as? AssemblyError else { return XCTFail("\($0)") }
    }
    let plan = AssemblyPlan(encoder: [.module(g2), .teacher(layer: 2), .teacher(layer: 3)], decoder: (0..<4).map { .teacher(layer: $0) })
    // A BART block stands for a block of another architecture.
    let bart = tinyBart()
    XCTAssertThrowsError(try Assembler.assemble(teacher: teacher, plan: plan, loadBlock: { _ in bart.encoder.blocks[0] })) {
      guard case .incompatibleBlock(let module, _) = $0 as? AssemblyError else { return XCTFail("\($0)") }
      XCTAssertEqual(module, "encoder.g2.0")
    }
    struct Missing: Error {}
    XCTAssertThrowsError(try Assembler.assemble(teacher: teacher, plan: plan, loadBlock: { _ in throw Missing() })) {
      XCTAssertTrue($0 is Missing)
    }
    XCTAssertEqual(teacher.encoder.depth, 4)
  }

  // MARK: Recipes

  func parse(_ json: String) throws -> AssemblyRecipe {
    try AssemblyRecipe.parse(Data(json.utf8), source: "r.json")
  }

  func assertRecipeError(_ json: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try parse(json), file: file, line: line) {
      XCTAssertEqual("\($0)", "r.json: \(message)", file: file, line: line)
    }
  }

  func testRecipesParse() throws {
    let strategy = try parse(#"{"registry": "Checkpoints/demo/registry", "strategy": "speed-first", "ratio": 2}"#)
    XCTAssertEqual(strategy, AssemblyRecipe(registry: "Checkpoints/demo/registry", strategy: .speedFirst, ratio: 2))
    XCTAssertEqual(try parse(#"{"strategy": "pareto", "speedup": 3}"#).speedup, 3)
    let explicit = try parse(
      #"{"plan": {"encoder": [{"teacher": 0}, {"teacher": 1}, {"module": "encoder.g2.1"}], "decoder": [{"module": "decoder.g4.0"}]}}"#)
    XCTAssertEqual(explicit.plan?.summary, "enc L0 L1 M2[2-3] | dec M4[0-3]")
  }

  func testRecipeErrorsNameTheField() {
    assertRecipeError("[1]", "is not a JSON object")
    assertRecipeError(#"{"strategy": "size-first", "ratio": 2, "rato": 3}"#, "unknown field 'rato'; expected registry, strategy, ratio, speedup, plan, description")
    assertRecipeError(
      #"{"strategy": "fastest", "ratio": 2}"#,
      "field 'strategy': unknown strategy 'fastest'; valid strategies: size-first, speed-first, pareto")
    assertRecipeError(#"{"strategy": "size-first"}"#, "field 'ratio' is required with 'strategy'")
    assertRecipeError(#"{"strategy": "size-first", "ratio": "2"}"#, "field 'ratio' must be a number")
    assertRecipeError(#"{"strategy": "size-first", "ratio": 0.5}"#, "field 'ratio' must be a finite number ≥ 1, not 0.5")
    assertRecipeError(#"{"strategy": "size-first", "speedup": 2}"#, "field 'speedup' works with strategy 'pareto' only; use 'ratio' with 'size-first'")
    assertRecipeError(#"{"registry": 3, "strategy": "pareto", "ratio": 2}"#, "field 'registry' must be a string")
    assertRecipeError(#"{"registry": "x"}"#, "needs 'plan' or 'strategy' (with 'ratio' or 'speedup')")
    assertRecipeError(
      #"{"strategy": "pareto", "ratio": 2, "plan": {"encoder": [], "decoder": []}}"#,
      "field 'strategy' cannot be used with 'plan': a recipe gives a plan or a strategy, not both")
    assertRecipeError(#"{"plan": {"encoder": []}}"#, "missing field 'plan.decoder'")
    assertRecipeError(
      #"{"plan": {"encoder": [{"teacher": 0}, {"layer": 1}], "decoder": []}}"#,
      #"field 'plan.encoder[1]' must be {"teacher": LAYER} or {"module": "encoder.gG.J"}"#)
    assertRecipeError(
      #"{"plan": {"encoder": [{"teacher": -1}], "decoder": []}}"#, "field 'plan.encoder[0].teacher' must be a layer index ≥ 0")
    assertRecipeError(
      #"{"plan": {"encoder": [{"module": "encoder.g1.0"}], "decoder": []}}"#,
      "field 'plan.encoder[0].module': 'encoder.g1.0' is not a module id like encoder.g2.0")
    assertRecipeError(
      #"{"plan": {"encoder": [], "decoder": [{"module": "encoder.g2.0"}]}}"#,
      "field 'plan.decoder[0].module': 'encoder.g2.0' belongs to the encoder, not the decoder")
  }

  func testRecipeResolutionErrorsNameTheRecipe() throws {
    let teacher = tinyT5()
    let catalog = StaticModuleCatalog(encoderDepth: 4, decoderDepth: 4, granularities: [2]) { _ in 1000 }
    let planner = AssemblyPlanner(costs: LayerCosts(teacher: teacher), catalog: catalog)
    let missing = try parse(
      #"{"plan": {"encoder": [{"module": "encoder.g4.0"}], "decoder": [{"teacher": 0}, {"teacher": 1}, {"teacher": 2}, {"teacher": 3}]}}"#)
    XCTAssertThrowsError(try missing.resolve(with: planner, source: "r.json")) {
      XCTAssertEqual("\($0)", "r.json: module 'encoder.g4.0' is not in the registry; available: encoder.g2.0, encoder.g2.1")
    }
    XCTAssertThrowsError(try parse(#"{"strategy": "size-first", "ratio": 6}"#).resolve(with: planner, source: "r.json")) {
      XCTAssertTrue("\($0)".hasPrefix("r.json: ratio 6 cannot be reached"), "\($0)")
    }
    let explicit = try parse(
      #"{"plan": {"encoder": [{"module": "encoder.g2.0"}, {"teacher": 2}, {"teacher": 3}], "decoder": [{"teacher": 0}, {"teacher": 1}, {"teacher": 2}, {"teacher": 3}]}}"#)
    let resolved = try explicit.resolve(with: planner, source: "r.json")
    XCTAssertNil(resolved.strategy)
    XCTAssertEqual(resolved.cost.encoderDepth, 3)
  }

  /// The shipped `Recipes/assemble-*.json` parse and say what their names say.
  func testShippedAssemblyRecipes() throws {
    let recipes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Recipes")
    var seen = 0
    for ratio in ["1.1", "1.5", "2", "3", "4", "6"] {
      for strategy in AssemblyStrategy.allCases where strategy != .pareto {
        let url = recipes.appendingPathComponent("assemble-\(ratio)-\(strategy.rawValue).json")
        let recipe = try AssemblyRecipe.load(from: url)
        XCTAssertEqual(recipe.strategy, strategy, url.path)
        XCTAssertEqual(recipe.ratio, Double(ratio), url.path)
        XCTAssertEqual(recipe.registry, "Checkpoints/demo/registry", url.path)
        seen += 1
      }
    }
    XCTAssertEqual(seen, 12)
  }
}
