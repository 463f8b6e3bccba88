import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

#if canImport(FoundationXML)
  import FoundationXML
#endif

final class ComparisonTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("ComparisonTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  // MARK: Layer dropping

  func testKeptLayersAreEvenlySpacedWithFirstAndLast() {
    XCTAssertEqual(StudentShape.keptLayers(depth: 6, keeping: 3), [0, 3, 5])
    XCTAssertEqual(StudentShape.keptLayers(depth: 6, keeping: 2), [0, 5])
    XCTAssertEqual(StudentShape.keptLayers(depth: 12, keeping: 4), [0, 4, 7, 11])
    XCTAssertEqual(StudentShape.keptLayers(depth: 4, keeping: 3), [0, 2, 3])
    XCTAssertEqual(StudentShape.keptLayers(depth: 6, keeping: 1), [0])
    XCTAssertEqual(StudentShape.keptLayers(depth: 5, keeping: 5), [0, 1, 2, 3, 4])
    XCTAssertEqual(StudentShape.keptLayers(depth: 5, keeping: 9), [0, 1, 2, 3, 4])
    for depth in 1...12 {
      for count in 1...depth {
        let kept = StudentShape.keptLayers(depth: depth, keeping: count)
        XCTAssertEqual(kept.count, count)
        XCTAssertEqual(Set(kept).count, count, "no layer twice: \(kept)")
        XCTAssertEqual(kept, kept.sorted())
        if count > 1 { XCTAssertEqual([kept.first!, kept.last!], [0, depth - 1]) }
      }
    }
  }

  func testLayerDroppingCountsReachTheRatioWithTheMostParameters() throws {
    let costs = LayerCosts(
      encoderDepth: 6, decoderDepth: 6, encoderLayerParameters: 100, decoderLayerParameters: 100, nonLayerParameters: 500)
    func counts(_ ratio: Double) throws -> [Int] {
      let plan = try StudentShape.plan(costs: costs, ratio: ratio)
      return [plan.encoder.count, plan.decoder.count]
    }
    XCTAssertEqual(try counts(1), [6, 6])
    XCTAssertEqual(try counts(1.5), [4, 4])
    XCTAssertEqual(try counts(2), [3, 3])
    XCTAssertEqual(try counts(3), [2, 2])
    // 12 / 4 = 3 layers: as even as can be, the extra layer in the encoder.
    XCTAssertEqual(try counts(4), [2, 1])
    XCTAssertEqual(try counts(6), [1, 1])
    let plan = try StudentShape.plan(costs: costs, ratio: 2)
    XCTAssertEqual(plan.summary, "enc L0 L3 L5 | dec L0 L3 L5")
    let cost = costs.cost(of: plan)
    XCTAssertEqual(cost.layerParameterRatio, 2, accuracy: 1e-12)
    XCTAssertEqual(cost.totalParameterRatio, 1700.0 / 1100.0, accuracy: 1e-12)

    // Bigger decoder layers: the most parameters within the budget, not the same count per stack.
    let uneven = LayerCosts(
      encoderDepth: 6, decoderDepth: 6, encoderLayerParameters: 100, decoderLayerParameters: 150, nonLayerParameters: 0)
    let fine = try StudentShape.plan(costs: uneven, ratio: 1.1)
    XCTAssertEqual([fine.encoder.count, fine.decoder.count], [6, 5])
    XCTAssertGreaterThanOrEqual(uneven.cost(of: fine).layerParameterRatio, 1.1)

    XCTAssertThrowsError(try StudentShape.plan(costs: costs, ratio: 6.5)) { error in
      XCTAssertEqual(error as? LayerDroppingError, .unreachableRatio(requested: 6.5, maximum: 6))
      XCTAssertTrue("\(error)".contains("one layer per stack is ratio 6"), "\(error)")
    }
    XCTAssertThrowsError(try StudentShape.plan(costs: costs, ratio: 0.5)) { error in
      XCTAssertEqual(error as? AssemblyError, .invalidRatio(0.5))
    }
  }

  func testLayerDroppedModelKeepsTeacherLayersAndItsRatio() throws {
    let teacher = TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 5)
    let (model, plan, cost) = try LayerDropping.apply(to: teacher, ratio: 2)
    XCTAssertEqual(plan.summary, "enc L0 L3 | dec L0 L3")
    XCTAssertEqual([model.encoder.depth, model.decoder.depth, teacher.encoder.depth], [2, 2, 4])
    XCTAssertEqual(cost.layerParameters, model.layerParameterCount)
    XCTAssertEqual(cost.totalParameters, model.parameterCount)
    XCTAssertEqual(cost.layerParameterRatio, Double(teacher.layerParameterCount) / Double(model.layerParameterCount), accuracy: 1e-12)
    XCTAssertEqual(cost.layerParameterRatio, 2, accuracy: 1e-12)
    XCTAssertEqual(
      model.decoder.blocks[1].stateDictionary().mapValues(\.scalars), teacher.decoder.blocks[3].stateDictionary().mapValues(\.scalars))
    XCTAssertFalse(model.decoder.blocks[1] === teacher.decoder.blocks[3])
    let batch = Seq2SeqBatch(
      batchSize: 1, sourceLength: 3, sourceIDs: [5, 6, 1], sourceKeep: [1, 1, 1], targetLength: 2, decoderInputIDs: [0, 7],
      labels: [7, 1])
    XCTAssertTrue(model.forward(batch).scalars.allSatisfy(\.isFinite))
  }

  // MARK: Latency profile

  func testProfilerMeasuresOneLayerOfEachStack() {
    let teacher = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 2, seed: 5)
    let profiler = BlockLatencyProfiler(sourceLength: 8, generatedTokens: 4, secondsPerStack: 0.01)
    let latency = profiler.profile(teacher)
    XCTAssertEqual(latency.generatedTokens, 4)
    XCTAssertEqual(Set(latency.measuredSeconds.keys), [.teacherLayer(.encoder), .teacherLayer(.decoder)])
    XCTAssertTrue(latency.measuredSeconds.values.allSatisfy { $0 > 0 && $0 < 1 })
  }

  // MARK: Comparison

  func makeTeacherAndRegistry() throws -> (teacher: T5Model, folder: URL, registry: ModuleRegistry) {
    let fixture = try ComparisonFixture(in: directory)
    return (fixture.teacher, fixture.teacherFolder, fixture.registry)
  }

  let examples = ComparisonFixture.examples

  func testComparisonRowsReportAndFiles() throws {
    let (teacher, teacherFolder, registry) = try makeTeacherAndRegistry()
    let settings = ComparisonSettings(
      ratios: [1.5, 2, 3], strategies: [.sizeFirst, .speedFirst], metrics: [.em, .chrf], primaryMetric: "chrF",
      latencyExamples: 2, throughputBatch: 4, dataName: "sums")
    var events: [ComparisonProgress] = []
    let modelsFolder = directory.appendingPathComponent("models")
    let results = try Comparison.run(
      teacher: teacher, teacherFolder: teacherFolder, registry: registry, tokenizer: ByteTokenizer(), examples: examples,
      settings: settings, saveModelsTo: modelsFolder) { events.append($0) }

    XCTAssertEqual(results.rows.map(\.label), [
      "teacher", "size-first 1.5×", "speed-first 1.5×", "layer-drop 1.5×", "size-first 2×", "speed-first 2×",
      "layer-drop 2×", "size-first 3×", "speed-first 3×", "layer-drop 3×",
    ])
    let row = Dictionary(uniqueKeysWithValues: results.rows.map { ($0.label, $0) })
    let teacherRow = try XCTUnwrap(results.teacherRow)
    XCTAssertEqual(teacherRow.cost?.layerParameterRatio, 1)
    XCTAssertEqual(teacherRow.cost?.latencySpeedup, 1)
    XCTAssertEqual([teacherRow.cost?.encoderDepth, teacherRow.cost?.decoderDepth], [4, 4])
    XCTAssertEqual(teacherRow.cost?.totalParameters, teacher.parameterCount)

    // Ratios 1.5 and 2 are reachable with g2 modules; 3 is not, but layer dropping reaches it.
    for label in ["size-first 3×", "speed-first 3×"] {
      let skipped = try XCTUnwrap(row[label]?.skipped, label)
      XCTAssertTrue(skipped.contains("cannot be reached") && skipped.contains("reachable ratios"), skipped)
      XCTAssertNil(row[label]?.quality)
    }
    XCTAssertEqual([row["layer-drop 3×"]?.cost?.encoderDepth, row["layer-drop 3×"]?.cost?.decoderDepth], [1, 1])
    // Size-first: the most parameters within the budget; speed-first keeps the most encoder.
    XCTAssertEqual(row["size-first 1.5×"]?.plan, "enc M2[0-1] M2[2-3] | dec L0 L1 M2[2-3]")
    XCTAssertEqual(row["speed-first 1.5×"]?.plan, "enc L0 L1 M2[2-3] | dec M2[0-1] M2[2-3]")
    // At 2× both strategies need every module: measured once, reported twice.
    XCTAssertEqual(row["size-first 2×"]?.plan, "enc M2[0-1] M2[2-3] | dec M2[0-1] M2[2-3]")
    XCTAssertEqual(row["speed-first 2×"]?.sameModelAs, "size-first 2×")
    XCTAssertEqual(row["speed-first 2×"]?.quality, row["size-first 2×"]?.quality)
    XCTAssertEqual(row["speed-first 2×"]?.timing, row["size-first 2×"]?.timing)
    XCTAssertEqual(row["layer-drop 2×"]?.plan, "enc L0 L3 | dec L0 L3")

    let teacherLatency = try XCTUnwrap(teacherRow.timing?.latencyMilliseconds)
    for measured in results.rows where measured.skipped == nil {
      let cost = try XCTUnwrap(measured.cost, measured.label)
      let timing = try XCTUnwrap(measured.timing, measured.label)
      let quality = try XCTUnwrap(measured.quality, measured.label)
      XCTAssertGreaterThanOrEqual(cost.layerParameterRatio, (measured.requestedRatio ?? 1) * (1 - 1e-9), measured.label)
      XCTAssertLessThanOrEqual(cost.totalParameterRatio, cost.layerParameterRatio + 1e-12)
      XCTAssertEqual(cost.totalParameters, cost.layerParameters + teacher.parameterCount - teacher.layerParameterCount)
      XCTAssertEqual(try XCTUnwrap(cost.latencySpeedup), teacherLatency / timing.latencyMilliseconds, accuracy: 1e-9)
      XCTAssertLessThanOrEqual(cost.estimatedDecodingFLOPsPerToken, teacherRow.cost!.estimatedDecodingFLOPsPerToken)
      XCTAssertEqual(quality.metric, quality.metrics.first { $0.name == "chrF" }?.value)
      XCTAssertEqual(quality.metrics.map(\.name), ["EM", "chrF"])
      XCTAssertTrue(quality.loss.isFinite && quality.loss > 0)
      XCTAssertTrue(timing.latencyMilliseconds > 0 && timing.examplesPerSecond > 0 && timing.generatedTokensPerSecond > 0)
      XCTAssertEqual(timing.latencyExamples, 2)
      XCTAssertGreaterThanOrEqual(timing.latencyGeneratedTokens, 1)
      XCTAssertEqual(timing.millisecondsPerToken, timing.latencyMilliseconds / timing.latencyGeneratedTokens, accuracy: 1e-12)
      if let plan = measured.plan, !measured.isTeacher {
        let halves = plan.split(separator: "|")
        XCTAssertEqual(halves[0].split(separator: " ").count - 1, cost.encoderDepth, plan)
        XCTAssertEqual(halves[1].split(separator: " ").count - 1, cost.decoderDepth, plan)
      }
    }
    XCTAssertTrue(results.rows.contains(where: \.onSpeedFront))
    XCTAssertTrue(results.rows.contains(where: \.onSizeFront))
    XCTAssertEqual(results.registry.reachableRatios.last, 2)
    XCTAssertNotNil(results.latencyProfile.decoderLayerSeconds)
    XCTAssertEqual(results.data.examples, 6)

    // Progress: 7 distinct models (teacher, two 1.5× plans, one 2× plan, three dropped), each finished.
    let finished = events.filter { $0.stage == .measured }
    XCTAssertEqual(finished.map(\.modelsDone), Array(0..<7))
    XCTAssertEqual(Set(events.filter { $0.stage != .profiling }.map(\.models)), [7])

    // Saved assemblies: one folder per distinct plan, with the measured speedup.
    let saved = try FileManager.default.contentsOfDirectory(atPath: modelsFolder.path).sorted()
    XCTAssertEqual(saved, ["size-first-1.5x", "size-first-2x", "speed-first-1.5x"])
    let report = try AssemblyReport.load(from: modelsFolder.appendingPathComponent("size-first-2x"))
    XCTAssertEqual(report.cost.latencySpeedup, row["size-first 2×"]?.cost?.latencySpeedup)
    XCTAssertEqual(report.requestedRatio, 2)
    XCTAssertEqual(try ModelLoading.load(from: modelsFolder.appendingPathComponent("size-first-2x")).decoder.depth, 2)

    // The report files.
    let out = directory.appendingPathComponent("report")
    try ComparisonReport.write(results, to: out)
    let decoded = try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent("results.json")))
    XCTAssertEqual(decoded, results)
    let json = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as? [String: Any])
    XCTAssertNotNil(json["latency_profile"])
    let firstRow = try XCTUnwrap((json["rows"] as? [[String: Any]])?.first)
    XCTAssertNotNil((firstRow["cost"] as? [String: Any])?["layer_parameter_ratio"])

    let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
    let lines = csv.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    XCTAssertEqual(lines.count, 1 + results.rows.count)
    let header = lines[0].split(separator: ",").map(String.init)
    XCTAssertEqual(header.first, "label")
    XCTAssertTrue(header.contains("latency_speedup") && header.contains("chrF") && header.contains("total_parameter_ratio"))
    XCTAssertTrue(lines[8].hasPrefix("size-first 3×,assembly,size-first,3.0,\"ratio 3 cannot be reached"), String(lines[8]))

    let markdown = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    let atTwo = try XCTUnwrap(markdown.split(separator: "\n").first { $0.hasPrefix("- **2×:** best ") }, markdown)
    XCTAssertTrue(atTwo.contains("size-first 2× (") && atTwo.contains("layer-drop 2× ("), String(atTwo))
    for fragment in ["| teacher |", "## Best of each kind per ratio", "plot.svg",
                     "Layer-parameter ratio", "skipped size-first 3×, speed-first 3×: ratio 3 cannot be reached"] {
      XCTAssertTrue(markdown.contains(fragment), "report.md lacks '\(fragment)'")
    }

    let svg = try Data(contentsOf: out.appendingPathComponent("plot.svg"))
    let elements = SVGElementCounter()
    let parser = XMLParser(data: svg)
    parser.delegate = elements
    XCTAssertTrue(parser.parse(), "plot.svg is not well-formed XML: \(String(describing: parser.parserError))")
    XCTAssertEqual(elements.names.first, "svg")
    XCTAssertEqual(elements.counts["path", default: 0] >= 2, true, "front lines and layer-dropping crosses")
    XCTAssertGreaterThanOrEqual(elements.counts["circle", default: 0], 2, "size-first points and the legend")
    XCTAssertTrue(elements.text.contains("teacher") && elements.text.contains("layer dropping"))

    let table = ComparisonReport.table(results)
    XCTAssertEqual(table.split(separator: "\n").filter { $0.hasPrefix("size-first 1.5×") }.count, 1)
  }

  func testComparisonRejectsBadSettingsAndForeignTeacher() throws {
    let (teacher, _, registry) = try makeTeacherAndRegistry()
    func run(_ settings: ComparisonSettings, teacherFolder: URL? = nil) throws {
      _ = try Comparison.run(
        teacher: teacher, teacherFolder: teacherFolder, registry: registry, tokenizer: ByteTokenizer(),
        examples: examples, settings: settings)
    }
    XCTAssertThrowsError(try run(ComparisonSettings(ratios: [0.5]))) { XCTAssertTrue("\($0)".contains("ratios"), "\($0)") }
    XCTAssertThrowsError(try run(ComparisonSettings(primaryMetric: "BLEU"))) {
      XCTAssertTrue("\($0)".contains("'BLEU' is not among the computed metrics (EM, chrF)"), "\($0)")
    }
    XCTAssertThrowsError(try run(ComparisonSettings(latencyExamples: 0))) { XCTAssertTrue("\($0)".contains("latency_examples"), "\($0)") }
    XCTAssertThrowsError(try run(ComparisonSettings(ratios: [2, 2.0]))) { XCTAssertTrue("\($0)".contains("ratio 2 is given twice"), "\($0)") }
    XCTAssertThrowsError(
      try Comparison.run(ComparisonParameters(registryFolder: registry.folder, examples: examples, saveModels: true))
    ) { XCTAssertTrue("\($0)".contains("save_models"), "\($0)") }
    let other = directory.appendingPathComponent("other")
    try ModelExport.save(TinyTeachers.t5(encoderLayers: 4, decoderLayers: 4, seed: 10, vocabularySize: 259), to: other)
    XCTAssertThrowsError(try run(ComparisonSettings(), teacherFolder: other)) { error in
      XCTAssertTrue("\(error)".contains("another teacher") || "\(error)".contains("fingerprint"), "\(error)")
    }
    XCTAssertEqual(try ComparisonSettings.primaryMetric(parsing: "rouge-l").name, "ROUGE-L")
    XCTAssertEqual(try ComparisonSettings.primaryMetric(parsing: "CHRF").metric, .chrf)
    XCTAssertThrowsError(try ComparisonSettings.primaryMetric(parsing: "accuracy"))
  }

  func testEvaluationCountsGeneratedTokensUpToEndOfSequence() throws {
    let tokenizer = ByteTokenizer()
    let model = TinyTeachers.t5(encoderLayers: 1, decoderLayers: 1, seed: 3, vocabularySize: tokenizer.vocabularySize)
    let (result, _) = try ModelEvaluation.run(model: model, tokenizer: tokenizer, examples: examples, batchSize: 64)
    let data = TokenizedExamples(examples, tokenizer: tokenizer)
    let outputs = try generate(model, sources: data.sources, options: GenerationOptions(maxNewTokens: data.targets.map(\.count).max()! + 8))
    let eos = model.specialTokens.eos
    let expected = outputs.map { row -> Int in
      let generated = Array(row.dropFirst())
      return generated.firstIndex(of: eos).map { $0 + 1 } ?? generated.count
    }
    XCTAssertEqual(result.generatedTokens, expected.reduce(0, +))
    XCTAssertGreaterThanOrEqual(result.generatedTokens, examples.count)
  }

  func testParetoFrontTicksAndCSVFields() {
    let points: [(x: Double, y: Double)] = [(1, 0.9), (2, 0.8), (2, 0.5), (3, 0.85), (4, 0.2), (4, 0.2)]
    XCTAssertEqual(ParetoFront.members(points, higherXIsBetter: true), [0, 3, 4, 5])
    XCTAssertEqual(ParetoFront.members(points, higherXIsBetter: false), [0])

    XCTAssertEqual(ComparisonPlot.ticks([1, 4.35]), [1, 2, 3, 4, 5])
    XCTAssertEqual(ComparisonPlot.ticks([7_900, 18_900]), [5_000, 10_000, 15_000, 20_000])
    let single = ComparisonPlot.ticks([0, 0])
    XCTAssertEqual([single.first!, single.last!], [0, 1], "one value 0: axis 0…1, never negative")
    XCTAssertEqual(ComparisonReport.csvField("ratio 3, not reached"), "\"ratio 3, not reached\"")
    XCTAssertEqual(ComparisonReport.csvField("say \"hi\"\nthere"), "\"say \"\"hi\"\" there\"")
    XCTAssertEqual(ComparisonReport.csvField("enc L0 | dec L1"), "enc L0 | dec L1")
  }
}

/// Counts the elements and collects the text of an XML document.
final class SVGElementCounter: NSObject, XMLParserDelegate {
  var names: [String] = []
  var counts: [String: Int] = [:]
  var text = ""

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    names.append(elementName)
    counts[elementName, default: 0] += 1
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
