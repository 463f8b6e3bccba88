import Foundation
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

/// Configurations, weights and inputs that used to crash, corrupt memory or
/// answer wrongly are refused with an error naming the file and field.
final class InputCheckTests: XCTestCase {
  private func configError(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
      _ = try ModelLoading.makeModel(configuration: Data(json.utf8), source: "c.json")
      XCTFail("\(json) was accepted", file: file, line: line)
      return ""
    } catch {
      XCTAssertTrue("\(error)".hasPrefix("c.json: "), "names the file: \(error)", file: file, line: line)
      return "\(error)"
    }
  }

  func testTokenIDsOutsideTheVocabularyAreRefused() {
    XCTAssertTrue(configError(#"{"model_type": "t5", "vocab_size": 100, "decoder_start_token_id": 999999}"#)
      .contains("'decoder_start_token_id': token id 999999 is outside the vocabulary 0..<100"))
    XCTAssertTrue(configError(#"{"model_type": "t5", "vocab_size": 100, "pad_token_id": -1}"#).contains("'pad_token_id'"))
    XCTAssertTrue(configError(#"{"model_type": "t5", "vocab_size": 100, "eos_token_id": [100]}"#).contains("'eos_token_id'"))
    // vocab_size 1 leaves BART's default pad id 1 outside the table (a heap corruption before).
    XCTAssertTrue(configError(#"{"model_type": "bart", "vocab_size": 1, "d_model": 512}"#).contains("'pad_token_id'"))
    XCTAssertTrue(configError(#"{"model_type": "bart", "vocab_size": 100, "d_model": 16, "encoder_attention_heads": 2, "decoder_attention_heads": 2, "forced_eos_token_id": 100}"#)
      .contains("'forced_eos_token_id'"))
  }

  func testSizesAreBoundedByTheMemoryTheModelWouldTake() {
    let wide = configError(#"{"model_type": "t5", "d_model": 1000000000000}"#)
    XCTAssertTrue(wide.contains("'d_model'") && wide.contains("would need") && wide.contains("PB"), wide)
    let deep = configError(#"{"model_type": "t5", "num_layers": 100000}"#)
    XCTAssertTrue(deep.contains("'num_layers'") && deep.contains("would need"), deep)
    let positions = configError(#"{"model_type": "bart", "max_position_embeddings": 100000000000}"#)
    XCTAssertTrue(positions.contains("'max_position_embeddings'"), positions)
    XCTAssertTrue(configError(#"{"model_type": "bart", "d_model": 10, "encoder_attention_heads": 3}"#).contains("not divisible"))
  }

  func testEpsilonsAndRelativeAttentionSettingsAreChecked() {
    XCTAssertTrue(configError(#"{"model_type": "t5", "layer_norm_epsilon": -1}"#).contains("'layer_norm_epsilon'"))
    XCTAssertTrue(configError(#"{"model_type": "t5", "relative_attention_num_buckets": 1}"#).contains("'relative_attention_num_buckets'"))
    XCTAssertTrue(configError(#"{"model_type": "t5", "relative_attention_max_distance": 0}"#).contains("'relative_attention_max_distance'"))
    XCTAssertTrue(configError(#"{"model_type": "t5", "dropout_rate": 1.5}"#).contains("'dropout_rate'"))
  }

  func testUnknownConfigFieldsOfRealCheckpointsStillLoad() throws {
    let json = #"{"model_type": "t5", "vocab_size": 100, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_heads": 2, "num_layers": 1, "transformers_version": "4.50", "task_specific_params": {"summarization": {"prefix": "summarize: "}}}"#
    XCTAssertEqual(try ModelLoading.makeModel(configuration: Data(json.utf8), source: "c.json").vocabularySize, 100)
  }

  func testUntiedHeadWithoutItsWeightNamesTheKey() throws {
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(tied: false), using: &generator)
    var tensors = model.checkpointTensors()
    tensors["lm_head.weight"] = nil
    XCTAssertThrowsError(try ModelLoading.load(tensors, into: model, source: "m.safetensors")) {
      XCTAssertTrue("\($0)".contains("'lm_head.weight'"), "\($0)")
    }
  }

  func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(), using: &generator)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nan-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try ModelExport.save(model, to: folder)
    var tensors = model.checkpointTensors()
    let key = "decoder.block.1.layer.2.DenseReluDense.wo.weight"
    var values = tensors[key]!.scalars
    values[3] = .nan
    tensors[key] = Tensor(values, shape: tensors[key]!.shape)
    let weights = folder.appendingPathComponent("model.safetensors")
    try SafeTensorsFile(tensors: tensors).write(to: weights)
    XCTAssertThrowsError(try ModelLoading.load(from: folder)) {
      XCTAssertTrue("\($0)".contains("tensor '\(key)' holds nan at element 3"), "\($0)")
    }
    values[3] = .infinity
    tensors[key] = Tensor(values, shape: tensors[key]!.shape)
    XCTAssertThrowsError(try ModelLoading.load(tensors, into: model, source: "checkpoint")) {
      XCTAssertTrue("\($0)".contains("'\(key)' holds inf"), "\($0)")
    }
  }

  func testBatchesAreValidatedBeforeTheyReachTheEmbedding() throws {
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(), using: &generator)
    var batch = TinyModels.copyBatch()
    XCTAssertNoThrow(try model.validate(batch))
    batch.sourceIDs[3] = 300000
    XCTAssertThrowsError(try model.checkedForward(batch)) {
      XCTAssertEqual($0 as? ModelInputError, .tokenOutOfRange(field: "sourceIDs", index: 3, id: 300000, vocabularySize: 24))
    }
    batch = TinyModels.copyBatch()
    batch.labels[0] = -1
    XCTAssertThrowsError(try model.validate(batch)) { XCTAssertTrue("\($0)".contains("labels[0]"), "\($0)") }
    batch = TinyModels.copyBatch()
    batch.sourceKeep[1] = 0.5
    XCTAssertThrowsError(try model.validate(batch)) { XCTAssertTrue("\($0)".contains("sourceKeep[1]: a mask holds 0 or 1"), "\($0)") }
    batch = TinyModels.copyBatch()
    batch.decoderInputIDs.removeLast()
    XCTAssertThrowsError(try model.validate(batch)) { XCTAssertTrue("\($0)".contains("decoderInputIDs has 9 entries"), "\($0)") }
    XCTAssertThrowsError(try model.checkedForward(TinyModels.copyBatch(), physicalMemory: 1000)) {
      XCTAssertTrue("\($0)".contains("would need about"), "\($0)")
    }
    XCTAssertEqual(try model.checkedForward(TinyModels.copyBatch()).shape, [2, 5, 24])
    XCTAssertThrowsError(try ModelInputChecks.tokenIDs(fromScalars: [1, 2.5], field: "input_ids", vocabularySize: 24)) {
      XCTAssertTrue("\($0)".contains("input_ids[1]: 2.5 is not a token id"), "\($0)")
    }
  }

  func testGenerationBoundsBeamsAndSourceLengths() throws {
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(), using: &generator)
    XCTAssertThrowsError(try generate(model, sources: [[5, 1]], options: GenerationOptions(numBeams: 100000))) {
      XCTAssertEqual($0 as? GenerationError, .invalidOption(name: "numBeams", reason: "100000 beams exceed the 24-token vocabulary"))
    }
    let long = [Int](repeating: 5, count: 20) + [1]
    XCTAssertThrowsError(try generate(model, sources: [[5, 1], long], options: GenerationOptions(maxSourceTokens: 16))) {
      XCTAssertEqual($0 as? GenerationError, .sourceTooLong(index: 1, tokens: 21, limit: 16, reason: "the maximum source length"))
    }
    // A working set larger than the machine is refused before anything is allocated.
    XCTAssertThrowsError(try GenerationRun.requireMemory(
      model: model, options: GenerationOptions(numBeams: 20), batchSize: 16, sourceLength: 13000, physicalMemory: 1 << 30)) {
      XCTAssertTrue("\($0)".contains("would need about"), "\($0)")
    }
    var bart = BartModel(TinyModels.bart(), using: &generator) as any Seq2SeqModel
    XCTAssertThrowsError(try generate(bart, sources: [[Int](repeating: 5, count: 40)])) {
      XCTAssertEqual($0 as? GenerationError, .sourceTooLong(index: 0, tokens: 40, limit: 32, reason: "the model's learned positions"))
    }
    bart = BartModel(TinyModels.bart(), using: &generator)
    XCTAssertEqual(bart.positionLimit, 32)
    XCTAssertNil(model.positionLimit)
  }

  func testFamilyBehaviourComesThroughTheModelProtocol() throws {
    var config = TinyModels.bart()
    config.forcedBosTokenId = 0
    config.forcedEosTokenId = 2
    var generator = SeededRandom(seed: 1)
    let models: [any Seq2SeqModel] = [BartModel(config, using: &generator), T5Model(TinyModels.t5(), using: &generator)]
    XCTAssertEqual(models[0].forcedTokenIDs.bos, 0)
    XCTAssertEqual(models[0].forcedTokenIDs.eos, 2)
    XCTAssertNil(models[1].forcedTokenIDs.bos)
    for model in models {
      // sanitize is the inverse of checkpointTensors for both families.
      let sanitized = try model.sanitize(weights: model.checkpointTensors(), source: "m")
      XCTAssertEqual(Set(sanitized.keys), Set(model.stateDictionary().keys))
    }
  }
}
