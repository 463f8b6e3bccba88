import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

/// `compare --baselines`: baseline rows, their ranking per ratio, their plot
/// markers, and the training-cost ledger against the modules run.
final class BaselineComparisonTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("BaselineComparisonTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// Saves the fixture teacher with layers dropped to `ratio` at `folder`, with a `baseline.json` beside it.
  @discardableResult
  func saveBaseline(
    _ fixture: ComparisonFixture, at folder: URL, method: BaselineMethod, ratio: Double, strategy: AssemblyStrategy = .sizeFirst,
    steps: Int = 100, tokens: Int = 5_000, seconds: Double = 10, labelSeconds: Double = 0, teacherFingerprint: String? = nil
  ) throws -> BaselineRecord {
    let dropped = try LayerDropping.apply(to: fixture.teacher, ratio: ratio, strategy: strategy)
    try ModelExport.save(dropped.model, to: folder, tokenizer: ByteTokenizer())
    let record = BaselineRecord(
      method: method, requestedRatio: ratio, layerParameterRatio: dropped.cost.layerParameterRatio, strategy: strategy,
      encoderLayers: dropped.model.encoder.depth, decoderLayers: dropped.model.decoder.depth, encoderLayerMap: nil,
      decoderLayerMap: nil, steps: steps, tokens: tokens, seconds: seconds, labelSeconds: labelSeconds,
      teacherFingerprint: teacherFingerprint ?? fixture.registry.teacherFingerprint, data: "test")
    try record.write(to: folder)
    return record
  }

  var quickSettings: ComparisonSettings {
    ComparisonSettings(ratios: [2], strategies: [.sizeFirst], latencyExamples: 1, throughputBatch: 8, profileLatency: false)
  }

  func testCompareWithBaselinesWritesRankedRowsMarkersAndTheLedger() throws {
    let fixture = try ComparisonFixture(in: directory)
    let baselines = directory.appendingPathComponent("baselines")
    // The folder's children and grandchildren are searched.
    let kd2 = try saveBaseline(fixture, at: baselines.appendingPathComponent("kd-2x"), method: .kd, ratio: 2, steps: 300, seconds: 30)
    let kd4 = try saveBaseline(
      fixture, at: baselines.appendingPathComponent("kd/4x"), method: .kd, ratio: 4, steps: 200, tokens: 7_000, seconds: 20,
      labelSeconds: 0)
    let sft = try saveBaseline(
      fixture, at: baselines.appendingPathComponent("sft/2x"), method: .sft, ratio: 2, strategy: .speedFirst, steps: 50, seconds: 4,
      labelSeconds: 1)
    let moduleRuns = [
      ModuleTrainingCost.Run(granularities: [2], steps: 100, tokens: 9_000, seconds: 20, teacherFingerprint: fixture.registry.teacherFingerprint),
      ModuleTrainingCost.Run(granularities: [4], steps: 150, tokens: 1_000, seconds: 5, teacherFingerprint: fixture.registry.teacherFingerprint),
    ]
    for run in moduleRuns { try ModuleTrainingCost.append(run, toRegistry: fixture.registry.folder) }

    let out = directory.appendingPathComponent("report")
    let results = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, examples: Array(ComparisonFixture.examples.prefix(2)), settings: quickSettings,
        reportFolder: out, baselinesFolder: baselines))
    let baselineRows = results.rows.filter { $0.kind == BaselineCandidate.kind }
    XCTAssertEqual(baselineRows.map(\.label), ["sft 2× speed-first", "kd 2×", "kd 4×"])
    XCTAssertEqual(baselineRows.map(\.method), ["sft", "kd", "kd"])
    XCTAssertEqual(baselineRows.map(\.requestedRatio), [2, 2, 4])
    XCTAssertTrue(baselineRows.allSatisfy(\.isMeasured), "measured like every other row")
    XCTAssertEqual(baselineRows.first { $0.label == "kd 2×" }?.cost?.layerParameterRatio, kd2.layerParameterRatio)
    XCTAssertEqual(baselineRows.first { $0.label == "kd 2×" }?.cost?.encoderDepth, kd2.encoderLayers)

    // results.json round-trips, with the rows' kind, method and ratio.
    let json = try Data(contentsOf: out.appendingPathComponent(ComparisonReport.jsonFileName))
    XCTAssertEqual(try ComparisonResults.decode(json), results)
    let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
    let rows = try XCTUnwrap(parsed["rows"] as? [[String: Any]])
    let kd = try XCTUnwrap(rows.first { $0["label"] as? String == "kd 4×" })
    XCTAssertEqual(kd["kind"] as? String, "baseline")
    XCTAssertEqual(kd["method"] as? String, "kd")
    XCTAssertEqual(kd["requested_ratio"] as? Double, 4)

    // The ledger: the records' sums, and each method against the modules runs.
    let ledger = try XCTUnwrap(results.ledger)
    XCTAssertEqual(ledger.modules.recorded, true)
    XCTAssertEqual(ledger.modules.runs, 2)
    XCTAssertEqual(ledger.modules.steps, 250)
    XCTAssertEqual(ledger.modules.tokens, 10_000)
    XCTAssertEqual(ledger.modules.seconds, 25)
    XCTAssertEqual(ledger.modules.ratios, [2])
    XCTAssertEqual(ledger.baselines.map(\.method), ["sft", "kd"])
    let kdCost = try XCTUnwrap(ledger.baselines.last)
    XCTAssertEqual(kdCost.runs, 2)
    XCTAssertEqual(kdCost.ratios, [2, 4])
    XCTAssertEqual(kdCost.steps, kd2.steps + kd4.steps)
    XCTAssertEqual(kdCost.tokens, kd2.tokens + kd4.tokens)
    XCTAssertEqual(kdCost.seconds, 50)
    XCTAssertEqual(kdCost.secondsVersusModules, 2)
    XCTAssertEqual(kdCost.stepsVersusModules, 2)
    XCTAssertEqual(ledger.baselines.first?.seconds, sft.seconds + sft.labelSeconds, "label seconds count")
    XCTAssertNotNil(parsed["ledger"] as? [String: Any])
    // Results written before the ledger still read.
    var older = parsed
    older["ledger"] = nil
    let decodedOlder = try ComparisonResults.decode(JSONSerialization.data(withJSONObject: older))
    XCTAssertNil(decodedOlder.ledger)
    XCTAssertEqual(decodedOlder.rows, results.rows)

    let markdown = try String(contentsOf: out.appendingPathComponent(ComparisonReport.markdownFileName), encoding: .utf8)
    let lines = markdown.split(separator: "\n").map(String.init)
    let atTwo = try XCTUnwrap(lines.first { $0.hasPrefix("- **2×:**") })
    XCTAssertTrue(atTwo.contains("best assembly size-first 2× ("), atTwo)
    XCTAssertTrue(atTwo.contains("best baseline kd 2× (") || atTwo.contains("best baseline sft 2× speed-first ("), atTwo)
    XCTAssertTrue(atTwo.contains("% of the teacher") || results.teacherRow?.quality?.relativeToTeacher == nil, atTwo)
    XCTAssertTrue(atTwo.contains("best layer-dropping layer-drop 2× ("), atTwo)
    let atFour = try XCTUnwrap(lines.first { $0.hasPrefix("- **4×:**") }, "a baseline's ratio outside the sweep is ranked too")
    XCTAssertTrue(atFour.contains("kd 4× ("), atFour)
    XCTAssertTrue(markdown.contains("## Training-cost ledger"), markdown)
    XCTAssertTrue(lines.contains("| modules | 2 | 1 ratio (2×) | 250 | 10.0k | 25.0 | 1× | 1× |"), markdown)
    XCTAssertTrue(lines.contains("| kd | 2 | 2×, 4× | 500 | 12.0k | 50.0 | 2.00× | 2.00× |"), markdown)
    XCTAssertTrue(lines.contains("| sft | 1 | 2× | 50 | 5.0k | 5.0 (labels 1.0) | 0.20× | 0.20× |"), markdown)
    XCTAssertTrue(lines.contains("- kd at 2 ratios cost 2.0× the 2 modules runs' seconds and 2.0× their steps."), markdown)
    XCTAssertFalse(markdown.contains(ComparisonReport.notRecorded))

    let svg = try String(contentsOf: out.appendingPathComponent(ComparisonReport.plotFileName), encoding: .utf8)
    XCTAssertTrue(svg.contains(">kd (baseline)</text>") && svg.contains(">sft (baseline)</text>"), "a legend entry per method")
    XCTAssertTrue(svg.contains(##"fill="#6a3d9a""##) && svg.contains(##"fill="#e7298a""##), "each method its own colour and marker")
  }

  /// A polished assembly is ranked as its own kind, beside the assemblies
  /// and the baselines, and the ledger counts it on top of the modules run.
  func testPolishedAssemblyIsItsOwnKindOfRow() throws {
    let fixture = try ComparisonFixture(in: directory)
    let baselines = directory.appendingPathComponent("baselines")
    try saveBaseline(fixture, at: baselines.appendingPathComponent("kd-2x"), method: .kd, ratio: 2)
    try saveBaseline(fixture, at: baselines.appendingPathComponent("polish-2x"), method: .polish, ratio: 2, steps: 30, seconds: 2)
    try ModuleTrainingCost.append(
      ModuleTrainingCost.Run(granularities: [2], steps: 100, tokens: 9_000, seconds: 20, teacherFingerprint: fixture.registry.teacherFingerprint),
      toRegistry: fixture.registry.folder)
    let out = directory.appendingPathComponent("report")
    let results = try Comparison.run(
      ComparisonParameters(
        registryFolder: fixture.registry.folder, examples: Array(ComparisonFixture.examples.prefix(2)), settings: quickSettings,
        reportFolder: out, baselinesFolder: baselines))
    XCTAssertEqual(results.rows.filter { $0.kind == BaselineCandidate.kind }.map(\.label), ["kd 2×"])
    let polished = try XCTUnwrap(results.rows.first { $0.kind == BaselineCandidate.polishedKind })
    XCTAssertEqual(polished.label, "polish 2×")
    XCTAssertEqual(polished.method, "polish")
    XCTAssertTrue(polished.isMeasured)
    let markdown = try String(contentsOf: out.appendingPathComponent(ComparisonReport.markdownFileName), encoding: .utf8)
    let atTwo = try XCTUnwrap(markdown.split(separator: "\n").first { $0.hasPrefix("- **2×:**") })
    XCTAssertTrue(atTwo.contains("polished polish 2× (") && atTwo.contains("baseline kd 2× ("), String(atTwo))
    XCTAssertTrue(markdown.contains("- polish at 1 ratio cost 0.1× the modules run's seconds and 0.3× its steps, on top of that run."), markdown)
    let svg = try String(contentsOf: out.appendingPathComponent(ComparisonReport.plotFileName), encoding: .utf8)
    XCTAssertTrue(svg.contains(">polished assembly</text>"), "its own legend entry")
  }

  func testEveryBaselineMethodHasItsOwnMarkerAndTheLegendStaysInside() throws {
    let keys = [ComparisonRow.teacherKind] + AssemblyStrategy.allCases.map(\.rawValue) + [LayerDroppingCandidate.kind]
      + BaselineMethod.allCases.map(\.rawValue)
    let series = keys.map { key in
      let style = try! XCTUnwrap(ComparisonPlot.styles[key], key)
      return ComparisonPlot.Series(name: style.name, colour: style.colour, marker: style.marker)
    }
    let baselineMarkers = series.suffix(BaselineMethod.allCases.count).map { "\($0.marker)" }
    XCTAssertEqual(Set(baselineMarkers).count, BaselineMethod.allCases.count, "a shape per method")
    XCTAssertTrue(Set(baselineMarkers).isDisjoint(with: series.prefix(5).map { "\($0.marker)" }), "none an assembly's")
    let legend = ComparisonPlot.legend(series).joined(separator: "\n")
    let texts = legend.matches(of: /<text x="([0-9.]+)" y="([0-9.]+)">([^<]*)</).map {
      (x: Double($0.1) ?? .infinity, y: Double($0.2) ?? .infinity, text: String($0.3))
    }
    XCTAssertEqual(texts.count, series.count + 1)
    XCTAssertEqual(Set(texts.map(\.y)).count, 2, "wrapped on to a second line")
    // About 7 px a character at the legend's 12 px font.
    XCTAssertTrue(
      texts.allSatisfy { $0.x + 7 * Double($0.text.count) <= ComparisonPlot.width && $0.y < ComparisonPlot.height }, "\(texts)")
  }

  func testDemoComparesTheBaselinesBesideItsCheckpoints() throws {
    let checkpoints = directory.appendingPathComponent("checkpoints")
    let fixture = try ComparisonFixture(in: checkpoints)
    let baselines = checkpoints.appendingPathComponent(Demo.baselinesFolderName)
    try saveBaseline(fixture, at: baselines.appendingPathComponent("kd-2x"), method: .kd, ratio: 2)
    var recipe = ModulesRecipe()
    recipe.data = DatasetSpec(task: "dates")
    let parameters = DemoParameters(
      output: directory.appendingPathComponent("demo"), modulesRecipe: recipe, shipped: checkpoints, comparison: quickSettings, count: 2)
    XCTAssertEqual(Demo.baselinesFolder(parameters)?.path, baselines.path)
    let result = try Demo.run(parameters)
    XCTAssertEqual(result.results.rows.filter { $0.kind == BaselineCandidate.kind }.map(\.label), ["kd 2×"])
    XCTAssertEqual(result.results.ledger?.baselines.map(\.method), ["kd"])

    // Without the folder the demo compares as before.
    try FileManager.default.removeItem(at: baselines)
    XCTAssertNil(Demo.baselinesFolder(parameters))
    XCTAssertEqual(try Demo.run(parameters).results.rows.filter { $0.kind == BaselineCandidate.kind }.count, 0)
  }

  func testLedgerSaysNotRecordedNeverZero() throws {
    let record = BaselineRecord(
      method: .kd, requestedRatio: 2, layerParameterRatio: 2, strategy: .sizeFirst, encoderLayers: 1, decoderLayers: 1,
      encoderLayerMap: nil, decoderLayerMap: nil, steps: 10, tokens: 100, seconds: 3, teacherFingerprint: "t", data: "test")
    let ledger = TrainingCostLedger(modules: nil, assemblyRatios: [2, 3], baselines: [record])
    XCTAssertEqual(ledger.modules.recorded, false)
    XCTAssertNil(ledger.modules.steps)
    XCTAssertNil(ledger.baselines.first?.secondsVersusModules)
    let lines = ComparisonReport.ledgerLines(ledger)
    XCTAssertTrue(lines.contains("| modules | not recorded | all 2 ratios (2×, 3×) | not recorded | not recorded | not recorded | 1× | 1× |"), "\(lines)")
    XCTAssertTrue(lines.contains { $0.hasPrefix("- kd at 1 ratio cost 3.0 s; the modules run's cost is not recorded") }, "\(lines)")
    let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ledger)) as? [String: Any]
    let modules = try XCTUnwrap(json?["modules"] as? [String: Any])
    XCTAssertTrue(modules["steps"] is NSNull && modules["seconds"] is NSNull, "null, not 0: \(modules)")

    // Without baselines the ledger says how to add them.
    let alone = ComparisonReport.ledgerLines(TrainingCostLedger(modules: nil, assemblyRatios: [], baselines: []))
    XCTAssertTrue(alone.last?.contains("--baselines DIR") ?? false, "\(alone)")
  }

  func testBaselinesOfAnotherTeacherOrNoneAtAllAreRefusedNamingTheFolder() throws {
    let fixture = try ComparisonFixture(in: directory)
    let baselines = directory.appendingPathComponent("baselines")
    let good = baselines.appendingPathComponent("kd-2x")
    try saveBaseline(fixture, at: good, method: .kd, ratio: 2)
    let foreign = baselines.appendingPathComponent("other/sft-2x")
    try saveBaseline(fixture, at: foreign, method: .sft, ratio: 2, teacherFingerprint: String(repeating: "0", count: 64))
    let out = directory.appendingPathComponent("report")
    func compare(_ folder: URL) throws {
      _ = try Comparison.run(
        ComparisonParameters(
          registryFolder: fixture.registry.folder, examples: Array(ComparisonFixture.examples.prefix(2)), settings: quickSettings,
          reportFolder: out, baselinesFolder: folder))
    }
    XCTAssertThrowsError(try compare(baselines)) { error in
      XCTAssertEqual(
        error as? BaselineError,
        .otherTeacher(folder: foreign.path, found: String(repeating: "0", count: 64), expected: fixture.registry.teacherFingerprint))
      XCTAssertTrue("\(error)".contains(foreign.path) && "\(error)".contains("another teacher"), "\(error)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")

    let empty = directory.appendingPathComponent("empty/a/b/c")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    try saveBaseline(fixture, at: empty.appendingPathComponent("too-deep"), method: .kd, ratio: 2)
    XCTAssertThrowsError(try compare(directory.appendingPathComponent("empty"))) { error in
      XCTAssertEqual(error as? BaselineError, .noBaselines(folder: directory.appendingPathComponent("empty").path))
    }
    XCTAssertThrowsError(try compare(directory.appendingPathComponent("missing"))) { error in
      XCTAssertTrue("\(error)".contains(directory.appendingPathComponent("missing").path), "\(error)")
    }

    // Two baselines that would share a row, and a record that does not match its model.
    try FileManager.default.removeItem(at: foreign)
    let twin = baselines.appendingPathComponent("again/kd-2x")
    try saveBaseline(fixture, at: twin, method: .kd, ratio: 2)
    let tokenizer = ByteTokenizer(), fingerprint = fixture.registry.teacherFingerprint
    XCTAssertThrowsError(try BaselineCandidate(under: baselines, teacherFingerprint: fingerprint, tokenizer: tokenizer)) { error in
      XCTAssertTrue("\(error)".contains(twin.path) && "\(error)".contains(good.path) && "\(error)".contains("'kd 2×'"), "\(error)")
    }
    try FileManager.default.removeItem(at: twin)
    var record = try BaselineRecord.read(from: good)
    record.encoderLayers += 1
    try record.write(to: good)
    XCTAssertThrowsError(try BaselineCandidate(under: baselines, teacherFingerprint: fingerprint, tokenizer: tokenizer)) { error in
      XCTAssertTrue("\(error)".contains(good.path) && "\(error)".contains("layers but the model has"), "\(error)")
    }
  }

  func testTrainingCostFileIsStrict() throws {
    let fixture = try ComparisonFixture(in: directory)
    let folder = fixture.registry.folder, fingerprint = fixture.registry.teacherFingerprint
    XCTAssertNil(try ModuleTrainingCost.read(inRegistry: folder, teacherFingerprint: fingerprint), "not recorded")
    let run = ModuleTrainingCost.Run(granularities: [2], steps: 3, tokens: 40, seconds: 1.5, teacherFingerprint: fingerprint)
    try ModuleTrainingCost.append(run, toRegistry: folder)
    try ModuleTrainingCost.append(run, toRegistry: folder)
    XCTAssertEqual(try ModuleTrainingCost.read(inRegistry: folder, teacherFingerprint: fingerprint)?.runs, [run], "an equal run is kept once")
    XCTAssertEqual(fixture.registry.verify(), [], "a file the registry may hold")

    let file = folder.appendingPathComponent(ModuleTrainingCost.fileName)
    let text = try String(contentsOf: file, encoding: .utf8)
    for (edited, expected) in [
      (text.replacingOccurrences(of: "\"steps\" : 3", with: "\"steps\" : 3, \"steps\" : 4"), "duplicate key 'steps'"),
      (text.replacingOccurrences(of: "\"tokens\"", with: "\"token\""), "token"),
      (text.replacingOccurrences(of: "\"seconds\" : 1.5", with: "\"seconds\" : -1"), "seconds"),
      (text.replacingOccurrences(of: fingerprint, with: String(repeating: "1", count: 64)), "not the registry's teacher"),
    ] {
      try Data(edited.utf8).write(to: file)
      XCTAssertThrowsError(try ModuleTrainingCost.read(inRegistry: folder, teacherFingerprint: fingerprint), expected) { error in
        XCTAssertTrue("\(error)".contains(file.path) && "\(error)".contains(expected), "\(error)")
      }
    }
  }
}
