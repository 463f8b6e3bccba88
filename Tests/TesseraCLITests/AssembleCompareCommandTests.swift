import Foundation
import ModularCompression
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

/// `tessera assemble` and `tessera compare` on a tiny teacher and registry made in-process.
final class AssembleCompareCommandTests: XCTestCase {
  var folder: URL!
  var teacher: URL { folder.appendingPathComponent("teacher") }
  var registry: URL { folder.appendingPathComponent("registry") }

  override func setUpWithError() throws {
    folder = CLI.temporaryFolder()
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (ByteTokenizer().vocabularySize, 16, 4, 32, 2)
    (config.numLayers, config.numDecoderLayers, config.relativeAttentionNumBuckets, config.dropoutRate) = (4, 4, 8, 0)
    var generator = SeededRandom(seed: 5)
    let model = T5Model(config, using: &generator)
    try ModelExport.save(model, to: teacher, tokenizer: ByteTokenizer())
    let modules = try ModuleRegistry.create(
      at: registry, teacherFingerprint: try TeacherFingerprint.of(modelFolder: teacher),
      teacher: TeacherSummary(model: model, path: teacher.path))
    let provenance = ModuleProvenance(
      created: Date(timeIntervalSince1970: 1_700_000_000), steps: 0, seed: 1, command: "test", initialisation: "copy-first")
    for stack in [model.encoder, model.decoder] {
      for granularity in [2, 4] {
        for span in ModuleSpan.spans(stack: stack.role, depth: stack.depth, granularity: granularity) {
          try modules.add(block: stack.blocks[span.start].copy(), span: span, provenance: provenance)
        }
      }
    }
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: folder)
  }

  func writeRecipe(_ json: String) throws -> String {
    let recipe = folder.appendingPathComponent("recipe-\(UUID().uuidString).json")
    try Data(json.utf8).write(to: recipe)
    return recipe.path
  }

  func testFlagsARecipeAlreadySetsAreErrorsAndDefaultsNeverOverrideIt() throws {
    let recipe = try writeRecipe(#"{"registry": "\#(registry.path)", "strategy": "pareto", "ratio": 2}"#)
    let out = folder.appendingPathComponent("assembled")
    for flags in [["--ratio", "3"], ["--strategy", "size-first"]] {
      let result = try CLI.run(["assemble", "--recipe", recipe, "--out", out.path] + flags)
      XCTAssertEqual(result.status, 2, result.error)
      XCTAssertTrue(result.error.contains("\(flags[0]) cannot be used with --recipe") && result.error.contains("already sets"), result.error)
      XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }
    let other = try CLI.run(["assemble", "--recipe", recipe, "--registry", teacher.path, "--out", out.path])
    XCTAssertEqual(other.status, 2, other.error)
    XCTAssertTrue(other.error.contains("disagrees with the recipe"), other.error)

    let made = try CLI.run(["assemble", "--recipe", recipe, "--out", out.path])
    XCTAssertEqual(made.status, 0, made.error)
    XCTAssertEqual(try AssemblyReport.load(from: out).strategy, "pareto", "the recipe's strategy, not the flag's default")
    XCTAssertEqual(try AssemblyReport.load(from: out).requestedRatio, 2)
  }

  func testOutputsTesseraDidNotWriteAreRefusedAndKept() throws {
    let manifest = try Data(contentsOf: registry.appendingPathComponent("manifest.json"))
    let modules = try FileManager.default.contentsOfDirectory(atPath: registry.path).sorted()
    let notes = folder.appendingPathComponent("notes")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: false)
    try Data("mine".utf8).write(to: notes.appendingPathComponent("todo.txt"))
    for target in [registry, notes, teacher] {
      let assembled = try CLI.run(["assemble", "--registry", registry.path, "--ratio", "2", "--out", target.path])
      XCTAssertEqual(assembled.status, 1, assembled.error)
      XCTAssertTrue(assembled.error.contains(target.path), assembled.error)
      let compared = try CLI.run([
        "compare", "--registry", registry.path, "--task", "arithmetic", "--count", "2", "--ratios", "2", "--out", target.path,
      ])
      XCTAssertEqual(compared.status, 1, compared.error)
      XCTAssertTrue(compared.error.contains(target.path) && compared.error.contains("refusing to write"), compared.error)
    }
    XCTAssertEqual(try Data(contentsOf: registry.appendingPathComponent("manifest.json")), manifest)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: registry.path).sorted(), modules)
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("todo.txt"), encoding: .utf8), "mine")
    XCTAssertNoThrow(try ModelLoading.load(from: teacher))
  }

  func testAssembleChoosesThePlansCompareMeasured() throws {
    let report = folder.appendingPathComponent("report")
    let compared = try CLI.run([
      "compare", "--registry", registry.path, "--task", "arithmetic", "--count", "2", "--ratios", "1.1,2,4",
      "--strategies", "size-first,speed-first,pareto", "--no-layer-dropping", "--latency-examples", "1", "--batch", "8",
      "--out", report.path,
    ])
    XCTAssertEqual(compared.status, 0, compared.error)
    XCTAssertTrue(FileManager.default.fileExists(atPath: registry.appendingPathComponent(LatencyProfile.fileName).path))
    let results = try ComparisonResults.decode(Data(contentsOf: report.appendingPathComponent("results.json")))
    XCTAssertEqual(results.rows.filter { $0.method == "measured" }.map(\.label), ["measured 1.1×", "measured 2×", "measured 4×"])
    // Measured rows choose by validation data, which assemble does not read; the strategies it plans alike.
    for row in results.rows where !row.isTeacher && row.method != "measured" {
      let out = folder.appendingPathComponent("assembled")
      let assembled = try CLI.run([
        "assemble", "--registry", registry.path, "--ratio", "\(row.requestedRatio!)", "--strategy", row.method!, "--out", out.path,
      ])
      XCTAssertEqual(assembled.status, 0, assembled.error)
      XCTAssertEqual(try AssemblyReport.load(from: out).summary, row.plan, row.label)
      XCTAssertTrue(assembled.output.contains("kept in \(registry.path)"), assembled.output)
    }
    // A second compare replaces the report whole.
    let again = try CLI.run([
      "compare", "--registry", registry.path, "--task", "arithmetic", "--count", "2", "--ratios", "2",
      "--strategies", "pareto", "--no-layer-dropping", "--measured-plans", "0", "--latency-examples", "1", "--out", report.path,
    ])
    XCTAssertEqual(again.status, 0, again.error)
    let second = try ComparisonResults.decode(Data(contentsOf: report.appendingPathComponent("results.json")))
    XCTAssertEqual(second.rows.map(\.label), ["teacher", "pareto 2×"])
    let csv = try String(contentsOf: report.appendingPathComponent("results.csv"), encoding: .utf8)
    XCTAssertEqual(csv.split(separator: "\n").count, 3, csv)
  }
}

extension AssembleCompareCommandTests {
  func testCompareRefusesCountsAndRepeatsItCannotUse() throws {
    for (flags, expected) in [
      (["--count", "0"], "--count must be between 1 and"), (["--count", "100000000000"], "--count must be between 1 and"),
      (["--ratios", "2,2"], "--ratios: ratio 2 is given twice"), (["--strategies", "pareto,pareto"], "--strategies: strategy 'pareto' is given twice"),
      (["--latency-examples", "0"], "--latency-examples"), (["--batch", "-3"], "--batch"),
      (["--measured-plans", "-1"], "--measured-plans: must be between 0 and"),
    ] {
      let result = try CLI.run(["compare", "--registry", registry.path, "--task", "arithmetic", "--out", folder.appendingPathComponent("r").path] + flags)
      XCTAssertEqual(result.status, 2, "\(flags): \(result.error)")
      XCTAssertTrue(result.error.contains(expected), "\(flags): \(result.error)")
    }
  }
  /// An assembly carries the teacher's generation settings and takes --dtype and --max-shard-size.
  func testAssemblyKeepsTheGenerationSettingsAndShardsOnRequest() throws {
    let settings = Data(#"{"num_beams": 2, "max_new_tokens": 7}"#.utf8)
    try settings.write(to: teacher.appendingPathComponent("generation_config.json"))
    let out = folder.appendingPathComponent("assembled")
    let made = try CLI.run([
      "assemble", "--registry", registry.path, "--ratio", "2", "--out", out.path, "--dtype", "bf16", "--max-shard-size", "8KB",
    ])
    XCTAssertEqual(made.status, 0, made.error)
    XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("generation_config.json")), settings)
    let index = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("model.safetensors.index.json")))
    let shards = Set(((index as? [String: Any])?["weight_map"] as? [String: String] ?? [:]).values)
    XCTAssertGreaterThan(shards.count, 1)
    for shard in shards {
      XCTAssertTrue(try SafeTensorsFile.readHeader(from: out.appendingPathComponent(shard)).entries.allSatisfy { $0.dtype == .bfloat16 })
    }
    let assembled = try ModelLoading.load(from: out)
    XCTAssertLessThan(assembled.encoder.depth + assembled.decoder.depth, 8, "the sharded assembly loads, compressed")
    // compare --save-models carries the settings too.
    let report = folder.appendingPathComponent("report")
    let compared = try CLI.run([
      "compare", "--registry", registry.path, "--task", "arithmetic", "--count", "2", "--ratios", "2", "--strategies", "pareto",
      "--no-layer-dropping", "--measured-plans", "0", "--latency-examples", "1", "--save-models", "--out", report.path,
    ])
    XCTAssertEqual(compared.status, 0, compared.error)
    XCTAssertEqual(try Data(contentsOf: report.appendingPathComponent("models/pareto-2x/generation_config.json")), settings)
    // The next assembly replaces the sharded one.
    let again = try CLI.run(["assemble", "--registry", registry.path, "--ratio", "2", "--out", out.path])
    XCTAssertEqual(again.status, 0, again.error)
    XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
  }

  /// The teacher's generation settings are read (a bad one is named), and the generation flags are checked first.
  func testCompareReadsTheTeachersGenerationSettings() throws {
    let out = folder.appendingPathComponent("r").path
    let usage = try CLI.run(["compare", "--registry", registry.path, "--task", "arithmetic", "--out", out, "--beams", "0"])
    XCTAssertEqual(usage.status, 2, usage.error)
    XCTAssertTrue(usage.error.contains("--beams must be at least 1"), usage.error)
    let settings = teacher.appendingPathComponent("generation_config.json")
    try Data(#"{"no_repeat_ngram_size": -2}"#.utf8).write(to: settings)
    let result = try CLI.run([
      "compare", "--registry", registry.path, "--task", "arithmetic", "--count", "2", "--ratios", "2", "--strategies", "pareto",
      "--no-layer-dropping", "--latency-examples", "1", "--out", out,
    ])
    XCTAssertEqual(result.status, 1, result.error)
    XCTAssertTrue(result.error.contains("\(settings.path): field 'no_repeat_ngram_size': must be at least 0"), result.error)
  }

  func testCompareWithBaselinesAddsTheirRowsAndTheLedger() throws {
    let model = try ModelLoading.load(from: teacher)
    let baseline = folder.appendingPathComponent("baselines/kd-2x")
    let dropped = try LayerDropping.apply(to: model, ratio: 2)
    try ModelExport.save(dropped.model, to: baseline, tokenizer: ByteTokenizer())
    try BaselineRecord(
      method: .kd, requestedRatio: 2, layerParameterRatio: dropped.cost.layerParameterRatio, strategy: .sizeFirst,
      encoderLayers: dropped.model.encoder.depth, decoderLayers: dropped.model.decoder.depth, encoderLayerMap: nil,
      decoderLayerMap: nil, steps: 40, tokens: 900, seconds: 2.5, teacherFingerprint: try TeacherFingerprint.of(modelFolder: teacher),
      data: "test"
    ).write(to: baseline)
    let out = folder.appendingPathComponent("report")
    let quick = ["--task", "arithmetic", "--count", "3", "--latency-examples", "1", "--ratios", "2", "--strategies", "size-first"]
    let result = try CLI.run(["compare", "--registry", registry.path, "--out", out.path, "--baselines", folder.appendingPathComponent("baselines").path] + quick)
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(result.output.contains("kd 2×"), result.output)
    let results = try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent(ComparisonReport.jsonFileName)))
    XCTAssertEqual(results.rows.filter { $0.kind == "baseline" }.map(\.label), ["kd 2×"])
    XCTAssertEqual(results.ledger?.baselines.map(\.steps), [40])
    XCTAssertEqual(results.ledger?.modules.recorded, false, "this registry keeps no training-cost.json")
    let markdown = try String(contentsOf: out.appendingPathComponent(ComparisonReport.markdownFileName), encoding: .utf8)
    XCTAssertTrue(markdown.contains("| modules | not recorded |"), markdown)

    let missing = folder.appendingPathComponent("no-such-baselines")
    let refused = try CLI.run(["compare", "--registry", registry.path, "--out", out.path, "--baselines", missing.path] + quick)
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.error.contains(missing.path), refused.error)
    let help = try CLI.run(["compare", "--help"])
    XCTAssertTrue(help.output.contains("--baselines DIR"), help.output)
  }
}

/// `tessera compare --quantize`.
extension AssembleCompareCommandTests {
  func testCompareQuantizeAddsQuantizedCopiesOfTheTeacherAndEachAssembly() throws {
    let out = folder.appendingPathComponent("report-quantized")
    let result = try CLI.run([
      "compare", "--registry", registry.path, "--out", out.path, "--task", "arithmetic", "--count", "3", "--latency-examples", "1",
      "--ratios", "2", "--strategies", "size-first", "--measured-plans", "0", "--no-layer-dropping", "--quantize", "int8,bf16",
    ])
    XCTAssertEqual(result.status, 0, result.error)
    let results = try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent(ComparisonReport.jsonFileName)))
    let quantized = results.rows.filter { $0.kind == "quantized" }
    XCTAssertEqual(Set(quantized.map(\.label)), ["teacher int8", "teacher bf16", "size-first 2× int8", "size-first 2× bf16"])
    let teacher = try XCTUnwrap(results.teacherRow?.cost)
    XCTAssertEqual(teacher.bytesRatio ?? 0, 1, accuracy: 1e-9)
    for row in quantized {
      let cost = try XCTUnwrap(row.cost, row.label)
      // The same parameters as the source row, fewer bytes: int8 about 4× (norms and the position bias stay fp32), bf16 about 2×.
      let source = try XCTUnwrap(results.rows.first { $0.label == row.label.components(separatedBy: " ").dropLast().joined(separator: " ") }?.cost)
      XCTAssertEqual(cost.totalParameters, source.totalParameters, row.label)
      let gain = try XCTUnwrap(cost.bytesRatio) / XCTUnwrap(source.bytesRatio)
      if row.method == "int8" { XCTAssertGreaterThan(gain, 3, row.label) } else { XCTAssertEqual(gain, 2, accuracy: 0.1, row.label) }
      XCTAssertNotNil(row.quality, row.label)
    }
    XCTAssertEqual(results.settings.quantize, [.int8, .bf16])
    let csv = try String(contentsOf: out.appendingPathComponent(ComparisonReport.csvFileName), encoding: .utf8)
    XCTAssertTrue(csv.split(separator: "\n")[0].contains("bytes_ratio"))
    let plot = try String(contentsOf: out.appendingPathComponent(ComparisonReport.plotFileName), encoding: .utf8)
    XCTAssertTrue(plot.contains("int8 (quantized)") && plot.contains("stored weight bytes"))

    let refused = try CLI.run(["compare", "--registry", registry.path, "--out", out.path, "--task", "arithmetic", "--quantize", "int4"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.error.contains("--quantize: unknown scheme 'int4'"), refused.error)
  }
}

/// `tessera compare --transforms`.
extension AssembleCompareCommandTests {
  func testCompareTransformsStacksEachChainOnTheTeacherAndEachAssembly() throws {
    let chains = folder.appendingPathComponent("chains.json")
    try Data("""
      [[{"compress": {"method": "svd", "ratio": 2, "targets": ["ffn"]}}],
       [{"compress": {"method": "svd", "ratio": 1.5}}, {"quantize": {"scheme": "int8"}}]]
      """.utf8).write(to: chains)
    let out = folder.appendingPathComponent("report-transformed")
    let result = try CLI.run([
      "compare", "--registry", registry.path, "--out", out.path, "--task", "arithmetic", "--count", "3", "--latency-examples", "1",
      "--ratios", "2", "--strategies", "size-first", "--measured-plans", "0", "--no-layer-dropping", "--transforms", chains.path,
    ])
    XCTAssertEqual(result.status, 0, result.error)
    let results = try ComparisonResults.decode(Data(contentsOf: out.appendingPathComponent(ComparisonReport.jsonFileName)))
    let transformed = results.rows.filter { $0.kind == "transformed" }
    XCTAssertEqual(Set(transformed.map(\.label)), [
      "teacher svd 2× ffn", "size-first 2× svd 2× ffn", "teacher svd 1.5× → int8", "size-first 2× svd 1.5× → int8",
    ])
    let sizeFirst = try XCTUnwrap(results.rows.first { $0.label == "size-first 2×" }?.cost)
    for row in transformed {
      let cost = try XCTUnwrap(row.cost, row.label)
      let source = row.label.hasPrefix("teacher") ? try XCTUnwrap(results.teacherRow?.cost) : sizeFirst
      // Factorising shrinks the parameters; int8 on top shrinks the bytes about 4× more.
      XCTAssertLessThan(cost.totalParameters, source.totalParameters, row.label)
      let gain = try XCTUnwrap(cost.bytesRatio) / XCTUnwrap(source.bytesRatio)
      XCTAssertGreaterThan(gain, row.label.hasSuffix("int8") ? 3 : 1, row.label)
      XCTAssertNotNil(row.quality, row.label)
    }
    XCTAssertEqual(results.settings.transforms.count, 2)
    let markdown = try String(contentsOf: out.appendingPathComponent(ComparisonReport.markdownFileName), encoding: .utf8)
    XCTAssertTrue(markdown.contains("## Stacked compression") && markdown.contains("| size-first 2× svd 1.5× → int8 |"), markdown)

    for (text, message) in [
      (#"[[{"quantize": {"scheme": "int8"}}, {"compress": {"method": "svd", "ratio": 2}}]]"#, "quantization must come last"),
      (#"[[{"compress": {"method": "svd", "ratio": 0.5}}]]"#, "[0][0].compress.ratio"),
      (#"[[{"prune": {"sparsity": 0.5}, "compress": {}}]]"#, "one key"),
      (#"[]"#, "lists no chains"),
    ] {
      try Data(text.utf8).write(to: chains)
      let refused = try CLI.run(["compare", "--registry", registry.path, "--out", out.path, "--task", "arithmetic", "--transforms", chains.path])
      XCTAssertNotEqual(refused.status, 0, text)
      XCTAssertTrue(refused.error.contains(chains.path) && refused.error.contains(message), "\(text): \(refused.error)")
    }
  }
}
