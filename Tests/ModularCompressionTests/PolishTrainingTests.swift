import Foundation
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

@testable import ModularCompression

/// `baselines train --method polish`: an assembled model trained further
/// with kd's loss, from its checked start to its record.
final class PolishTrainingTests: TinyPipelineTestCase {
  /// A 2× assembly of the tiny 4+4 teacher written as `tessera assemble`
  /// would, its modules stood in for by copies of each span's first teacher
  /// layer (a module's initialisation), so no module run is needed.
  private func assemble(_ teacherFolder: URL, name: String = "assembled", fingerprint: String? = nil) throws -> URL {
    let teacher = try ModelLoading.load(from: teacherFolder)
    let plan = AssemblyPlan(
      encoder: [.module(ModuleSpan(stack: .encoder, granularity: 2, index: 0)), .teacher(layer: 2), .teacher(layer: 3)],
      decoder: [.module(ModuleSpan(stack: .decoder, granularity: 2, index: 0)), .module(ModuleSpan(stack: .decoder, granularity: 2, index: 1))])
    let costs = LayerCosts(teacher: teacher)
    let planned = PlannedAssembly(
      plan: plan, strategy: .sizeFirst, budget: .layerParameterRatio(1.5), cost: costs.cost(of: plan), predictedLossIncrease: 0,
      estimatedSeconds: 1, estimatedSpeedup: 1)
    let out = folder.appendingPathComponent(name)
    try Assembler.assemble(
      planned, teacher: teacher,
      loadBlock: { span in (span.stack == .encoder ? teacher.encoder : teacher.decoder).blocks[span.start] },
      to: out, tokenizer: try loadTokenizer(from: teacherFolder), registryFingerprint: "registry",
      teacherFingerprint: try fingerprint ?? TeacherFingerprint.of(modelFolder: teacherFolder))
    return out
  }

  private func recipe(steps: Int) -> BaselineRecipe {
    var recipe = BaselineRecipe()
    recipe.baseline.method = .polish
    recipe.training.steps = steps
    recipe.training.warmupSteps = 1
    recipe.training.learningRate = 3e-3
    recipe.training.checkpointEvery = 2
    recipe.training.validateEvery = 2
    recipe.data = data
    return recipe
  }

  /// Each assembled layer is held against the teacher layer ending its span.
  func testLayerMapEndsEachPiecesSpan() {
    let plan = AssemblyPlan(
      encoder: [.module(ModuleSpan(stack: .encoder, granularity: 2, index: 0)), .teacher(layer: 2), .module(ModuleSpan(stack: .encoder, granularity: 3, index: 1))],
      decoder: [.module(ModuleSpan(stack: .decoder, granularity: 6, index: 0))])
    let map = StudentShape.layerMap(of: plan)
    XCTAssertEqual(map.encoder, [1, 2, 5])
    XCTAssertEqual(map.decoder, [5])
  }

  /// The run trains the assembly (its loss falls, its weights change), takes
  /// the assembly's ratio and records the plan it started from; compare ranks
  /// it as a `polished` row, not a baseline.
  func testPolishTrainsTheAssemblyAndRecordsItsStart() throws {
    let teacher = try trainTinyTeacher()
    let assembled = try assemble(teacher)
    let start = try ModelLoading.load(from: assembled).stateDictionary().mapValues(\.scalars)
    let out = folder.appendingPathComponent("polish")
    var losses: [Float] = []
    let record = try XCTUnwrap(BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(steps: 12), output: out, startModel: assembled)
    ) { if case .step(let progress) = $0 { losses.append(progress.loss) } })
    XCTAssertEqual(losses.count, 12)
    XCTAssertLessThan(losses.suffix(3).reduce(0, +), losses.prefix(3).reduce(0, +))
    XCTAssertEqual(record.method, .polish)
    XCTAssertEqual(record.requestedRatio, 1.5)
    XCTAssertEqual([record.encoderLayers, record.decoderLayers], [3, 2])
    XCTAssertEqual(record.startPlan, "enc M2[0-1] L2 L3 | dec M2[0-1] M2[2-3]")
    XCTAssertNil(record.encoderLayerMap)
    XCTAssertEqual(try BaselineRecord.read(from: out), record)
    let polished = try ModelLoading.load(from: out)
    XCTAssertEqual([polished.encoder.depth, polished.decoder.depth], [3, 2])
    XCTAssertNotEqual(polished.stateDictionary().mapValues(\.scalars), start)
    XCTAssertEqual(try ModelLoading.load(from: assembled).stateDictionary().mapValues(\.scalars), start, "the start is left as it was")
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(AssemblyReport.fileName).path))

    let tokenizer = try loadTokenizer(from: teacher)
    let candidate = try BaselineCandidate(
      under: folder, teacherFingerprint: try TeacherFingerprint.of(modelFolder: teacher), tokenizer: tokenizer)
    let found = candidate.baselines.map(\.folder.lastPathComponent)
    XCTAssertEqual(found, ["polish"])
  }

  /// A start that is not an assembly of this teacher is refused before any
  /// step, naming the folder or file; nothing is written.
  func testBadStartsAreRefusedNamingTheFile() throws {
    let teacher = try trainTinyTeacher()
    let out = folder.appendingPathComponent("polish")
    func refusal(_ start: URL?) -> String {
      do {
        try BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(steps: 2), output: out, startModel: start))
        return "no error"
      } catch { return "\(error)" }
    }
    XCTAssertTrue(refusal(nil).contains("--from"), refusal(nil))
    // The teacher itself has no assembly.json.
    XCTAssertTrue(refusal(teacher).contains("not an assembled model"), refusal(teacher))
    let other = try assemble(teacher, name: "other", fingerprint: String(repeating: "0", count: 64))
    let otherError = refusal(other)
    XCTAssertTrue(otherError.contains(other.appendingPathComponent(AssemblyReport.fileName).path) && otherError.contains("another teacher"), otherError)
    // A report whose plan is not the model's.
    let tampered = try assemble(teacher, name: "tampered")
    let reportURL = tampered.appendingPathComponent(AssemblyReport.fileName)
    var report = try AssemblyReport.load(from: tampered)
    report.plan.encoder = [.module(ModuleSpan(stack: .encoder, granularity: 2, index: 0)), .module(ModuleSpan(stack: .encoder, granularity: 2, index: 1))]
    try report.write(into: tampered)
    XCTAssertTrue(refusal(tampered).contains("layers but its plan 2+2"), refusal(tampered))
    report.requestedRatio = 0.5
    try report.write(into: tampered)
    XCTAssertTrue(refusal(tampered).contains(reportURL.path) && refusal(tampered).contains("requested_ratio"), refusal(tampered))
    report.requestedRatio = 1.5
    report.plan.encoder = [.teacher(layer: 0)]
    try report.write(into: tampered)
    XCTAssertTrue(refusal(tampered).contains(reportURL.path) && refusal(tampered).contains("does not cover"), refusal(tampered))
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(BaselineRecord.fileName).path))
    // A sweep has no assembly per ratio to start from.
    XCTAssertThrowsError(try BaselineSweep.run(BaselineSweepParameters(
      teacherFolder: teacher, recipe: recipe(steps: 2), methods: [.polish], ratios: [2], output: folder.appendingPathComponent("sweep")))) {
      XCTAssertTrue("\($0)".contains("--method polish --from"), "\($0)")
    }
  }

  /// Killed after a checkpoint and resumed, polish ends where an uninterrupted run ends.
  func testPolishResumedEqualsUninterrupted() throws {
    let teacher = try trainTinyTeacher()
    let assembled = try assemble(teacher)
    let whole = folder.appendingPathComponent("whole"), parts = folder.appendingPathComponent("parts")
    try BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(steps: 6), output: whole, startModel: assembled))
    struct Stop: Error {}
    XCTAssertThrowsError(try BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(steps: 6), output: parts, startModel: assembled)
    ) { if case .step(let progress) = $0, progress.step == 5 { throw Stop() } })
    try BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(steps: 6), output: parts, start: .resume, startModel: assembled))
    XCTAssertEqual(
      try ModelLoading.load(from: parts).stateDictionary().mapValues(\.scalars),
      try ModelLoading.load(from: whole).stateDictionary().mapValues(\.scalars))
  }
}
