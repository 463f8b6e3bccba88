import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

/// Reading `generation_config.json`, and the logit rules it turns on.
final class GenerationSettingsTests: XCTestCase {
  private func parse(_ json: String) throws -> GenerationSettings {
    try GenerationSettings.parse(Data(json.utf8), source: "g.json")
  }

  func testFieldsAndLengthsFollowTheReference() throws {
    var generator = SeededRandom(seed: 3)
    let model = BartModel(TinyModels.bart(), using: &generator)
    let settings = try parse(
      #"{"num_beams": 4, "max_length": 30, "min_length": 7, "early_stopping": "never", "eos_token_id": [2], "#
        + #""forced_bos_token_id": null, "no_repeat_ngram_size": 3, "repetition_penalty": 1.2, "length_penalty": 2.0, "#
        + #""decoder_start_token_id": 0, "do_sample": false, "transformers_version": "4.27.0"}"#)
    var options = GenerationOptions()
    try settings.apply(to: &options, model: model)
    XCTAssertEqual(options.numBeams, 4)
    XCTAssertEqual(options.maxNewTokens, 29, "max_length counts the decoder start token")
    XCTAssertEqual(options.minNewTokens, 6, "so does min_length")
    XCTAssertEqual(options.earlyStopping, .never)
    XCTAssertEqual(options.noRepeatNgramSize, 3)
    XCTAssertEqual(options.repetitionPenalty, 1.2)
    XCTAssertEqual(options.lengthPenalty, 2)
    XCTAssertEqual(options.specialTokens?.decoderStart, 0)
    XCTAssertEqual(options.specialTokens?.eos, 2)
    XCTAssertEqual(options.forcedTokens, .custom(bos: nil, eos: nil))
    var newTokens = GenerationOptions(maxNewTokens: 5)
    try parse(#"{"max_new_tokens": 9, "max_length": 30, "min_new_tokens": 2, "min_length": 8}"#).apply(to: &newTokens, model: model)
    XCTAssertEqual(newTokens.maxNewTokens, 9)
    XCTAssertEqual(newTokens.minNewTokens, 2)
    var untouched = GenerationOptions(maxNewTokens: 5)
    try parse("{}").apply(to: &untouched, model: model)
    XCTAssertEqual(untouched.maxNewTokens, 5, "no length in the file keeps the caller's")
  }

  func testBadValuesNameTheFileAndTheKey() throws {
    for (json, key) in [
      (#"{"num_beams": 0}"#, "num_beams"), (#"{"num_beams": 2.5}"#, "num_beams"), (#"{"max_length": "20"}"#, "max_length"),
      (#"{"early_stopping": "sometimes"}"#, "early_stopping"), (#"{"repetition_penalty": 0}"#, "repetition_penalty"),
      (#"{"length_penalty": "long"}"#, "length_penalty"), (#"{"eos_token_id": [1, 2]}"#, "eos_token_id"),
      (#"{"no_repeat_ngram_size": -1}"#, "no_repeat_ngram_size"), (#"{"forced_bos_token_id": -4}"#, "forced_bos_token_id"),
    ] {
      XCTAssertThrowsError(try parse(json), json) { error in
        XCTAssertEqual((error as? GenerationSettingsError)?.key, key, json)
        XCTAssertTrue(String(describing: error).hasPrefix("g.json: field '\(key)'"), "\(error)")
      }
    }
    XCTAssertThrowsError(try parse("[1]")) { XCTAssertTrue(String(describing: $0).hasPrefix("g.json: expected a JSON object")) }
    var generator = SeededRandom(seed: 3)
    let model = BartModel(TinyModels.bart(), using: &generator)
    var options = GenerationOptions()
    XCTAssertThrowsError(try parse(#"{"forced_eos_token_id": 100000}"#).apply(to: &options, model: model)) { error in
      XCTAssertEqual((error as? GenerationSettingsError)?.key, "forced_eos_token_id")
    }
  }

  func testNoRepeatNgramsBanWhatWouldRepeat() {
    func rules(_ n: Int) -> LogitRules {
      LogitRules(eos: 1, minNewTokens: 0, maxNewTokens: 10, forcedBOS: nil, forcedEOS: nil, noRepeatNgramSize: n)
    }
    // After "… 5 6 … 5", a 2-gram ban forbids 6 again; 3-grams look at "6 5".
    XCTAssertEqual(rules(2).bannedByNgrams([0, 5, 6, 7, 5]), [6])
    XCTAssertEqual(rules(3).bannedByNgrams([0, 5, 6, 5, 6, 5]), [6])
    XCTAssertEqual(rules(3).bannedByNgrams([0, 5]), [])
    XCTAssertEqual(rules(1).bannedByNgrams([0, 5, 5]), [0, 5, 5], "1-grams ban every token seen, the start token too")
  }

  func testRepetitionPenaltyShrinksSeenScoresOnce() {
    let rules = LogitRules(eos: 1, minNewTokens: 0, maxNewTokens: 10, forcedBOS: nil, forcedEOS: nil, repetitionPenalty: 2)
    var row: [Float] = [4, -4, 3, 1]
    row.withUnsafeMutableBufferPointer { rules.apply(to: $0, prefix: [0, 2, 2, 1]) }
    XCTAssertEqual(row, [2, -8, 1.5, 1])
  }
}
