import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

/// The checkpoint-variant fixtures (`Tests/Reference/make_variant_fixtures.py`):
/// logits, and greedy and 3-beam outputs under each folder's own generation
/// settings, identical to the reference's `generate`.
final class VariantParityTests: TemporaryFolderTestCase {
  static let names = ["bart_untied", "flan_t5", "mt5_sharded", "mbart", "bart_generation"]

  /// What `generation.json` records.
  struct Record: Decodable {
    let input_ids: [[Int]]
    let attention_mask: [[Int]]
    let beam_num_beams: Int
    let greedy_sequences: [[Int]]
    let beam_sequences: [[Int]]

    /// The unpadded sources.
    var sources: [[Int]] { zip(input_ids, attention_mask).map { ids, keep in Array(ids.prefix(keep.reduce(0, +))) } }
  }

  static func record(_ fixture: ReferenceFixture) throws -> Record {
    try JSONDecoder().decode(Record.self, from: Data(contentsOf: fixture.folder.appendingPathComponent("generation.json")))
  }

  /// The folder's settings with `beams` beams.
  static func options(folder: URL, model: any Seq2SeqModel, beams: Int) throws -> GenerationOptions {
    var options = GenerationOptions()
    try XCTUnwrap(GenerationSettings.read(folder: folder)).apply(to: &options, model: model)
    options.numBeams = beams
    return options
  }

  func testLogitsMatchTheReference() throws {
    for name in Self.names {
      let fixture = try ReferenceFixture(name)
      let model = try ModelLoading.load(from: fixture.folder)
      let logits = withoutGradient { model.forward(try! fixture.batch()) }
      XCTAssertLessThanOrEqual(relativeMaxError(logits, try fixture.tensor("logits")), 1e-4, name)
    }
  }

  func testGreedyAndBeamOutputsFollowTheFolderSettings() throws {
    for name in Self.names {
      let fixture = try ReferenceFixture(name)
      let model = try ModelLoading.load(from: fixture.folder)
      let record = try Self.record(fixture)
      for (beams, expected) in [(1, record.greedy_sequences), (record.beam_num_beams, record.beam_sequences)] {
        let options = try Self.options(folder: fixture.folder, model: model, beams: beams)
        XCTAssertEqual(try generate(model, sources: record.sources, options: options), expected, "\(name) beams \(beams)")
      }
    }
  }

  /// Each setting of bart_generation changes its outputs (the fixture script
  /// checks that for the reference), so leaving the file out must too.
  func testGenerationSettingsChangeTheOutputs() throws {
    let fixture = try ReferenceFixture("bart_generation")
    let model = try ModelLoading.load(from: fixture.folder)
    let record = try Self.record(fixture)
    var plain = GenerationOptions(maxNewTokens: 13, numBeams: 3)
    XCTAssertNotEqual(try generate(model, sources: record.sources, options: plain), record.beam_sequences)
    plain.numBeams = 1
    XCTAssertNotEqual(try generate(model, sources: record.sources, options: plain), record.greedy_sequences)
    for row in record.greedy_sequences { XCTAssertEqual(row[1], 0, "forced_bos_token_id") }
  }

  /// The same settings as generation fields of an older config.json (no generation_config.json).
  func testLegacyConfigFieldsGiveTheSameOutputs() throws {
    let fixture = try ReferenceFixture("bart_generation")
    let folder = temporary.appendingPathComponent("legacy")
    try FileManager.default.copyItem(at: fixture.folder, to: folder)
    let generationURL = folder.appendingPathComponent(GenerationSettings.fileName)
    let configURL = folder.appendingPathComponent("config.json")
    var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
    let generation = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: generationURL)) as? [String: Any])
    config.merge(generation) { _, new in new }
    try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    try FileManager.default.removeItem(at: generationURL)

    let settings = try XCTUnwrap(GenerationSettings.read(folder: folder))
    XCTAssertEqual(settings.source, configURL.path)
    XCTAssertEqual(settings.noRepeatNgramSize, 2)
    let model = try ModelLoading.load(from: folder)
    let record = try Self.record(fixture)
    for (beams, expected) in [(1, record.greedy_sequences), (record.beam_num_beams, record.beam_sequences)] {
      let options = try Self.options(folder: folder, model: model, beams: beams)
      XCTAssertEqual(try generate(model, sources: record.sources, options: options), expected, "beams \(beams)")
    }
  }

  func testVariantConfigurationsExportAsTheyWereRead() throws {
    for (name, type, architecture) in [
      ("bart_untied", "bart", "BartForConditionalGeneration"), ("mt5_sharded", "mt5", "MT5ForConditionalGeneration"),
    ] {
      let model = try ModelLoading.load(from: try ReferenceFixture(name).folder)
      let config = try XCTUnwrap(JSONSerialization.jsonObject(with: model.configurationJSON()) as? [String: Any])
      XCTAssertEqual(config["model_type"] as? String, type)
      XCTAssertEqual(config["architectures"] as? [String], [architecture])
      XCTAssertEqual(config["tie_word_embeddings"] as? Bool, false, name)
      XCTAssertNotNil(model.checkpointTensors()["lm_head.weight"], name)
    }
    let mbart = try ModelLoading.load(from: try ReferenceFixture("mbart").folder)
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: mbart.configurationJSON()) as? [String: Any])
    XCTAssertEqual(config["model_type"] as? String, "mbart")
    XCTAssertEqual(config["architectures"] as? [String], ["MBartForConditionalGeneration"])
    XCTAssertNotNil(mbart.checkpointTensors()["model.decoder.layer_norm.weight"])
  }

  func testEveryBartActivationIsRead() throws {
    for (name, expected) in [("gelu", FeedForwardActivation.gelu), ("gelu_new", .geluNew), ("relu", .relu), ("silu", .silu), ("swish", .silu)] {
      let config = try JSONDecoder().decode(BartConfiguration.self, from: Data(#"{"activation_function": "\#(name)"}"#.utf8))
      XCTAssertEqual(config.activationFunction, expected, name)
    }
    XCTAssertThrowsError(try JSONDecoder().decode(BartConfiguration.self, from: Data(#"{"activation_function": "tanh"}"#.utf8)))
  }
}
