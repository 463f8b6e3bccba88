import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

@testable import ModularCompression

/// Per-ratio baseline students: their shapes, starts, losses, pseudo-label cache and records.
final class BaselineTrainingTests: TinyPipelineTestCase {
  private func recipe(_ method: BaselineMethod, ratio: Double, steps: Int = 3) -> BaselineRecipe {
    var recipe = BaselineRecipe()
    recipe.baseline.method = method
    recipe.baseline.ratio = ratio
    recipe.training.steps = steps
    recipe.training.warmupSteps = 1
    recipe.training.checkpointEvery = 2
    recipe.training.validateEvery = 2
    recipe.data = data
    return recipe
  }

  /// Every method's student has the depths of the one rule, for several ratios and both strategies.
  func testStudentDepthsForEveryMethodAndRatio() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 12, decoderLayers: 12, seed: 1)
    let costs = LayerCosts(teacher: teacher)
    let expected: [(Double, AssemblyStrategy, Int, Int)] = [
      (1.5, .sizeFirst, 8, 8), (2, .sizeFirst, 6, 6), (3, .sizeFirst, 4, 4), (6, .sizeFirst, 2, 2),
    ]
    for (ratio, strategy, encoder, decoder) in expected {
      let plan = try StudentShape.plan(costs: costs, ratio: ratio, strategy: strategy)
      for method in [BaselineMethod.scratch, .sft, .kd, .pseudoLabels] {
        let student = try BaselineTraining.makeStudent(method, plan: plan, teacher: teacher, seed: 3)
        XCTAssertEqual([student.encoder.depth, student.decoder.depth], [encoder, decoder], "\(method) at \(ratio)")
        XCTAssertGreaterThanOrEqual(costs.cost(ofModel: student).layerParameterRatio, ratio * (1 - 1e-9))
      }
    }
    // speed-first cuts the decoder first: more encoder layers than size-first at the same ratio.
    for ratio in [1.5, 2.0, 3.0] {
      let speed = try StudentShape.plan(costs: costs, ratio: ratio, strategy: .speedFirst)
      let size = try StudentShape.plan(costs: costs, ratio: ratio, strategy: .sizeFirst)
      XCTAssertGreaterThan(speed.encoder.count, size.encoder.count, "ratio \(ratio)")
      XCTAssertLessThan(speed.decoder.count, size.decoder.count, "ratio \(ratio)")
      let student = try BaselineTraining.makeStudent(.kd, plan: speed, teacher: teacher, seed: 0)
      XCTAssertEqual([student.encoder.depth, student.decoder.depth], [speed.encoder.count, speed.decoder.count])
    }
    // theseus: the smallest granularity whose all-module cover reaches the ratio.
    let equal = LayerCosts(encoderDepth: 12, decoderDepth: 12, encoderLayerParameters: 100, decoderLayerParameters: 100, nonLayerParameters: 10)
    for (ratio, granularity) in [(1.5, 2), (2.0, 2), (3.0, 3), (4.0, 4), (6.0, 6)] {
      XCTAssertEqual(try TheseusBaseline.granularity(costs: equal, ratio: ratio), granularity, "ratio \(ratio)")
    }
    XCTAssertThrowsError(try TheseusBaseline.granularity(costs: equal, ratio: 13))
    XCTAssertThrowsError(try StudentShape.plan(costs: equal, ratio: 13, strategy: .sizeFirst))
  }

  /// sft copies evenly spaced layers, first and last kept, and saves the student's depths.
  func testSftStartsFromTheKeptTeacherLayersAndReloadsWithItsDepths() throws {
    XCTAssertEqual(StudentShape.keptLayers(depth: 12, keeping: 6), [0, 2, 4, 7, 9, 11])
    let teacher = TinyTeachers.t5(encoderLayers: 12, decoderLayers: 12, seed: 2)
    let plan = try StudentShape.plan(costs: LayerCosts(teacher: teacher), ratio: 2)
    XCTAssertEqual(StudentShape.layerMap(of: plan).encoder, [0, 2, 4, 7, 9, 11])
    XCTAssertEqual(StudentShape.layerMap(of: plan).decoder, [0, 2, 4, 7, 9, 11])
    let student = try BaselineTraining.makeStudent(.sft, plan: plan, teacher: teacher, seed: 0)
    for (index, layer) in [0, 2, 4, 7, 9, 11].enumerated() {
      XCTAssertEqual(
        student.decoder.blocks[index].stateDictionary().mapValues(\.scalars),
        teacher.decoder.blocks[layer].stateDictionary().mapValues(\.scalars), "decoder layer \(index) = teacher \(layer)")
    }
    let saved = folder.appendingPathComponent("sft")
    try ModelExport.save(student, to: saved)
    let reloaded = try ModelLoading.load(from: saved)
    XCTAssertEqual([reloaded.encoder.depth, reloaded.decoder.depth], [6, 6])
    XCTAssertEqual(reloaded.stateDictionary().mapValues(\.scalars), student.stateDictionary().mapValues(\.scalars))

    // scratch: the same shape from seeded random weights, not the teacher's.
    let scratch = try BaselineTraining.makeStudent(.scratch, plan: plan, teacher: teacher, seed: 5)
    let again = try BaselineTraining.makeStudent(.scratch, plan: plan, teacher: teacher, seed: 5)
    XCTAssertEqual([scratch.encoder.depth, scratch.decoder.depth], [6, 6])
    XCTAssertEqual(scratch.stateDictionary().mapValues(\.scalars), again.stateDictionary().mapValues(\.scalars))
    XCTAssertNotEqual(
      scratch.encoder.blocks[0].stateDictionary().mapValues(\.scalars),
      teacher.encoder.blocks[0].stateDictionary().mapValues(\.scalars))
  }

  /// kd's hidden targets are the teacher's outputs of the mapped layers: a
  /// student keeping layers [0, 3] matches the teacher exactly after layer 0
  /// and not after layer 3 (its input differs); a full copy has no KL and no hidden error.
  func testKDHiddenTargetsUseTheMappedLayers() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 4)
    var examples = TokenizedExamples([], tokenizer: ByteTokenizer())
    examples.sources = [[3, 4, 5, 1], [6, 7, 1]]
    examples.targets = [[8, 9, 1], [10, 1]]
    let batch = examples.makeBatch([0, 1], tokens: teacher.specialTokens)
    let full = try StudentShape.plan(costs: LayerCosts(teacher: teacher), ratio: 1)
    let copy = try BaselineTraining.makeStudent(.kd, plan: full, teacher: teacher, seed: 0)
    let identity = StudentDistillation(
      teacher: teacher, layerMap: StudentShape.layerMap(of: full), temperature: 2, weights: StudentDistillationWeights())
    let exact = identity.loss(student: copy, batch: batch, dropout: nil, labelSmoothing: 0)
    let metrics = Dictionary(uniqueKeysWithValues: exact.metrics.map { ($0.name, $0.value) })
    XCTAssertEqual(Double(metrics["kl"] ?? 1), 0, accuracy: 1e-5)
    XCTAssertEqual(Double(metrics["hidden"] ?? 1), 0, accuracy: 1e-6)

    let plan = AssemblyPlan(encoder: [.teacher(layer: 0), .teacher(layer: 3)], decoder: [.teacher(layer: 0), .teacher(layer: 3)])
    let student = try BaselineTraining.makeStudent(.kd, plan: plan, teacher: teacher, seed: 0)
    let distillation = StudentDistillation(
      teacher: teacher, layerMap: StudentShape.layerMap(of: plan), temperature: 2, weights: StudentDistillationWeights())
    let studentTaps = StackTaps(), teacherTaps = StackTaps()
    _ = student.encode(batch, taps: studentTaps)
    _ = teacher.encode(batch, taps: teacherTaps)
    let mask = Tensor(batch.sourceKeep, shape: [batch.batchSize, batch.sourceLength, 1])
    let errors = distillation.hiddenErrors(studentTaps, teacherTaps, map: [0, 3], mask: mask).map { $0.item() }
    XCTAssertEqual(errors.count, 2)
    XCTAssertEqual(Double(errors[0]), 0, accuracy: 1e-7)
    XCTAssertGreaterThan(errors[1], 1e-4)
    let loss = distillation.loss(student: student, batch: batch, dropout: nil, labelSmoothing: 0)
    XCTAssertTrue(loss.total.item().isFinite)
    XCTAssertGreaterThan(loss.metrics.first { $0.name == "hidden" }?.value ?? 0, 0)
  }

  /// A kd run trains: its loss falls, and it writes a model folder with a record that reads back.
  func testKDRunLowersItsLossAndWritesItsRecord() throws {
    let teacher = try trainTinyTeacher()
    let out = folder.appendingPathComponent("kd")
    var losses: [Float] = []
    var recipe = recipe(.kd, ratio: 2, steps: 12)
    recipe.training.learningRate = 3e-3
    let record = try XCTUnwrap(BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe, output: out)) {
      if case .step(let progress) = $0 { losses.append(progress.loss) }
    })
    XCTAssertEqual(losses.count, 12)
    XCTAssertTrue(losses.allSatisfy(\.isFinite))
    XCTAssertLessThan(losses.suffix(3).reduce(0, +), losses.prefix(3).reduce(0, +))
    XCTAssertEqual(try BaselineRecord.read(from: out), record)
    XCTAssertEqual([record.encoderLayers, record.decoderLayers], [2, 2])
    XCTAssertEqual(record.encoderLayerMap, [0, 3])
    XCTAssertEqual(record.steps, 12)
    XCTAssertGreaterThan(record.tokens, 0)
    XCTAssertEqual(record.teacherFingerprint, try TeacherFingerprint.of(modelFolder: teacher))
    XCTAssertEqual(record.data, "task dates")
    let reloaded = try ModelLoading.load(from: out)
    XCTAssertEqual([reloaded.encoder.depth, reloaded.decoder.depth], [2, 2])
    XCTAssertEqual(OutputFolder.inspect(out), .tessera(.baseline))
    XCTAssertEqual(OutputFolder.inspect(teacher), .tessera(.teacher))
    // A fresh run over it is refused; the record marks it finished.
    XCTAssertThrowsError(try BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe, output: out))) {
      XCTAssertEqual(($0 as? TrainingStartError)?.kind, .earlierRun, "\($0)")
    }
    // Without its record the folder is an unfinished baseline run (its checkpoint names a baseline objective).
    try FileManager.default.removeItem(at: out.appendingPathComponent(BaselineRecord.fileName))
    XCTAssertEqual(OutputFolder.inspect(out), .tessera(.baseline))
    XCTAssertNoThrow(try OutputFolder.claim(out, as: .baseline, force: false))
    XCTAssertThrowsError(try OutputFolder.claim(out, as: .teacher, force: false))
  }

  /// The pseudo-label cache is reused for the same teacher and data, and
  /// replaced for another teacher or other sources.
  func testPseudoLabelCacheIsKeyedByTeacherAndData() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 2, seed: 6)
    let other = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 2, seed: 7)
    let cache = folder.appendingPathComponent(PseudoLabels.fileName)
    let sources = [[3, 4, 5, 1], [6, 7, 1], [8, 1]]
    func labels(_ model: any Seq2SeqModel, _ fingerprint: String, _ sources: [[Int]]) throws -> PseudoLabels.Labels {
      try PseudoLabels.labels(
        cache: cache, teacher: model, teacherFingerprint: fingerprint, sources: sources, maxNewTokens: 6, batchSize: 2,
        writeCache: true)
    }
    let made = try labels(teacher, "aaaa", sources)
    XCTAssertFalse(made.wasCached)
    XCTAssertEqual(made.targets.count, 3)
    XCTAssertTrue(made.targets.allSatisfy { $0.last == teacher.specialTokens.eos && $0.count <= 7 })
    let expected = try generate(teacher, sources: sources, options: GenerationOptions(maxNewTokens: 6))
      .map { PseudoLabels.target(of: $0, eos: teacher.specialTokens.eos) }
    XCTAssertEqual(made.targets, expected, "batched labels equal one greedy generation of all sources")

    let reused = try labels(teacher, "aaaa", sources)
    XCTAssertTrue(reused.wasCached)
    XCTAssertEqual(reused.targets, made.targets)
    XCTAssertEqual(reused.seconds, made.seconds)

    let another = try labels(other, "bbbb", sources)
    XCTAssertFalse(another.wasCached, "a cache of another teacher is never used")
    XCTAssertEqual(another.targets, try generate(other, sources: sources, options: GenerationOptions(maxNewTokens: 6))
      .map { PseudoLabels.target(of: $0, eos: other.specialTokens.eos) })
    XCTAssertTrue(try String(contentsOf: cache, encoding: .utf8).contains("teacher\tbbbb"), "the cache is replaced")
    XCTAssertFalse(try labels(other, "bbbb", Array(sources.prefix(2))).wasCached, "other sources are labelled again")
    try Data("# tessera pseudo-labels 1\nteacher\tbbbb\n".utf8).write(to: cache)
    XCTAssertFalse(try labels(other, "bbbb", sources).wasCached, "a truncated cache is regenerated")
  }

  /// A pseudo-labels run keeps its cache in its folder, and a second run with the same teacher reuses it.
  func testPseudoLabelsRunKeepsItsCache() throws {
    let teacher = try trainTinyTeacher()
    let out = folder.appendingPathComponent("pl")
    var cached: [Bool] = []
    let record = try XCTUnwrap(BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(.pseudoLabels, ratio: 2), output: out)
    ) { if case .labelled(_, let wasCached, _) = $0 { cached.append(wasCached) } })
    XCTAssertGreaterThan(record.labelSeconds, 0)
    XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(PseudoLabels.fileName).path))
    try BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(.pseudoLabels, ratio: 2), output: out, start: .restart)
    ) { if case .labelled(_, let wasCached, _) = $0 { cached.append(wasCached) } }
    XCTAssertEqual(cached, [false, true])
    // Another teacher's run in the same folder labels again.
    let other = try trainTinyTeacher(name: "other", seed: 9)
    try BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: other, recipe: recipe(.pseudoLabels, ratio: 2), output: out, start: .restart)
    ) { if case .labelled(_, let wasCached, _) = $0 { cached.append(wasCached) } }
    XCTAssertEqual(cached, [false, true, false])
  }

  /// theseus trains modules of one granularity and assembles them at the ratio.
  func testTheseusAssemblesOneGranularity() throws {
    let teacher = try trainTinyTeacher()
    let out = folder.appendingPathComponent("theseus")
    let record = try XCTUnwrap(BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(.theseus, ratio: 2), output: out)))
    XCTAssertEqual([record.encoderLayers, record.decoderLayers], [2, 2])
    XCTAssertEqual(record.steps, 3)
    XCTAssertGreaterThan(record.tokens, 0)
    XCTAssertNil(record.encoderLayerMap)
    let registry = try ModuleRegistry.open(at: out.appendingPathComponent(BaselineTraining.theseusRegistryName))
    XCTAssertEqual(Set(registry.entries.map(\.moduleSpan.granularity)), [2])
    let model = try ModelLoading.load(from: out)
    XCTAssertEqual([model.encoder.depth, model.decoder.depth], [2, 2])
    XCTAssertEqual(OutputFolder.inspect(out), .tessera(.baseline))

    // Killed after its module run (record and model not yet written): resuming only assembles.
    for name in [BaselineRecord.fileName, "model.safetensors"] {
      try FileManager.default.removeItem(at: out.appendingPathComponent(name))
    }
    XCTAssertEqual(OutputFolder.inspect(out), .tessera(.baseline))
    var steps = 0
    let resumed = try XCTUnwrap(BaselineTraining.run(
      BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(.theseus, ratio: 2), output: out, start: .resume)
    ) { if case .step = $0 { steps += 1 } })
    XCTAssertEqual(steps, 0)
    XCTAssertEqual(resumed, record)
    XCTAssertEqual(try ModelLoading.load(from: out).stateDictionary().mapValues(\.scalars), model.stateDictionary().mapValues(\.scalars))
  }

  /// baseline.json reads back what was written and refuses bad files naming the file and the field.
  func testBaselineRecordParsesAndRefusesMalformedFiles() throws {
    let record = BaselineRecord(
      method: .kd, requestedRatio: 2, layerParameterRatio: 2, strategy: .sizeFirst, encoderLayers: 6, decoderLayers: 6,
      encoderLayerMap: [0, 2, 4, 7, 9, 11], decoderLayerMap: [0, 2, 4, 7, 9, 11], steps: 1200, tokens: 99, seconds: 1.5,
      teacherFingerprint: "abc", data: "task dates")
    try record.write(to: folder)
    XCTAssertEqual(try BaselineRecord.read(from: folder), record)
    let url = folder.appendingPathComponent(BaselineRecord.fileName)
    let text = try String(contentsOf: url, encoding: .utf8)
    let cases: [(String, String)] = [
      (text.replacingOccurrences(of: "\"steps\" : 1200", with: "\"steps\" : -1"), "steps"),
      (text.replacingOccurrences(of: "\"method\" : \"kd\"", with: "\"method\" : \"magic\""), "method"),
      (text.replacingOccurrences(of: "\"teacher_fingerprint\" : \"abc\",", with: ""), "teacher_fingerprint"),
      (text.replacingOccurrences(of: "\"data\" :", with: "\"extra\" : 1, \"data\" :"), "extra"),
      (text.replacingOccurrences(of: "\"requested_ratio\" : 2", with: "\"requested_ratio\" : 0.5"), "requested_ratio"),
    ]
    for (bad, field) in cases {
      try Data(bad.utf8).write(to: url)
      XCTAssertThrowsError(try BaselineRecord.read(from: folder), field) { error in
        XCTAssertTrue("\(error)".contains(url.path) && "\(error)".contains(field), "\(error)")
      }
    }
  }

  /// Settings that cannot make a student are refused before any work, naming the field.
  func testBadSettingsAreRefusedNamingTheField() throws {
    let teacher = try trainTinyTeacher()
    let out = folder.appendingPathComponent("bad")
    var bad = recipe(.kd, ratio: 2)
    bad.baseline.temperature = 0
    XCTAssertThrowsError(try BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: bad, output: out))) {
      XCTAssertTrue("\($0)".contains("baseline.temperature"), "\($0)")
    }
    XCTAssertThrowsError(
      try BaselineTraining.run(BaselineTrainingParameters(teacherFolder: teacher, recipe: recipe(.sft, ratio: 9), output: out))
    ) { XCTAssertTrue("\($0)".contains("cannot reach ratio"), "\($0)") }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    let recipeFile = folder.appendingPathComponent("r.json")
    try Data(#"{"baseline": {"temprature": 2}}"#.utf8).write(to: recipeFile)
    XCTAssertThrowsError(try BaselineRecipe.load(from: recipeFile)) {
      XCTAssertTrue("\($0)".contains(recipeFile.path) && "\($0)".contains("temprature"), "\($0)")
    }
  }

  /// The shipped recipe parses, with the modules run's data and steps.
  func testDemoBaselinesRecipeMatchesTheModulesRecipe() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let baselines = try BaselineRecipe.load(from: root.appendingPathComponent("Recipes/demo-baselines.json"))
    let modules = try ModulesRecipe.load(from: root.appendingPathComponent("Recipes/demo-modules.json"))
    XCTAssertEqual(baselines.data, modules.data)
    XCTAssertEqual(baselines.training.steps, modules.modules.steps)
    XCTAssertEqual(baselines.training.learningRate, modules.modules.learningRate)
  }

  /// Without a recipe a student gets a default modules run's steps, and
  /// Theseus keeps its replacement ramp when the modules' default replaces every span.
  func testDefaultsGiveStudentsTheModulesRunsSteps() throws {
    XCTAssertEqual(BaselineRecipe().training.steps, ModuleTrainingSettings().steps)
    let file = folder.appendingPathComponent("r.json")
    try Data(#"{"training": {"learning_rate": 0.002}}"#.utf8).write(to: file)
    let withoutSteps = try BaselineRecipe.load(from: file)
    XCTAssertEqual(withoutSteps.training.steps, ModuleTrainingSettings().steps, "a recipe without steps gets the same default")
    XCTAssertEqual(withoutSteps.training.learningRate, 0.002)
    try Data(#"{"training": {"steps": 7}}"#.utf8).write(to: file)
    XCTAssertEqual(try BaselineRecipe.load(from: file).training.steps, 7)
    XCTAssertEqual(ModuleTrainingSettings().replaceStart, 1)
    let theseus = TheseusBaseline.modulesRecipe(BaselineRecipe(), granularity: 3).modules
    XCTAssertEqual(theseus.replaceStart, 0.5)
    XCTAssertEqual(theseus.sampling, .perStep)
    XCTAssertEqual(theseus.steps, ModuleTrainingSettings().steps)
  }
}
