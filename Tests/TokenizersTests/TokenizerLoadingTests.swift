import Foundation
import XCTest

@testable import Tokenizers

final class TokenizerLoadingTests: XCTestCase {
  func testMissingFileIsNamed() throws {
    let folder = try makeTemporaryDirectory(self)
    let error = try loadError(folder)
    XCTAssertTrue(error.file.hasSuffix(tokenizerFileName), error.description)
    XCTAssertTrue(error.message.contains("not found"), error.description)
  }

  func testInvalidJSONNamesFileAndLine() throws {
    let folder = try write("{\n  \"model\": {\n    \"type\": \"BPE\",,\n  }\n}", in: try makeTemporaryDirectory(self))
    let error = try loadError(folder)
    XCTAssertTrue(error.file.hasSuffix(tokenizerFileName))
    XCTAssertEqual(error.field, "line 3, column 19")
    XCTAssertTrue(error.message.contains("invalid JSON"), error.description)
  }

  func testUnknownModelTypeNamesTheField() throws {
    let folder = try write(#"{"model": {"type": "WordPiece", "vocab": {}}}"#, in: try makeTemporaryDirectory(self))
    let error = try loadError(folder)
    XCTAssertEqual(error.field, "model.type")
    XCTAssertTrue(error.description.contains("WordPiece"), error.description)
    XCTAssertTrue(error.description.contains(tokenizerFileName), error.description)
  }

  func testUnknownTesseraTypeNamesTheField() throws {
    let folder = try write(#"{"type": "tessera-words"}"#, in: try makeTemporaryDirectory(self))
    XCTAssertEqual(try loadError(folder).field, "type")
  }

  func testBadFieldsAreNamed() throws {
    let model = #""model": {"type": "Unigram", "vocab": [["</s>", 0.0]]}"#
    let cases: [(String, String)] = [
      (#"{"normalizer": null}"#, "model"),
      (#"{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", "x"]]}}"#, "model.vocab[0][1]"),
      (#"{"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}}"#, "model.unk_id"),
      (#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}}"#, "model.merges[0]"),
      ("{\(model), " + #""normalizer": {"type": "BertNormalizer"}}"#, "normalizer.type"),
      (
        "{\(model), " + #""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits"}]}}"#,
        "pre_tokenizer.pretokenizers[0].type"
      ),
      ("{\(model), " + #""decoder": {"type": "Metaspace", "replacement": "ab"}}"#, "decoder.replacement"),
      (
        "{\(model), " + #""normalizer": {"type": "Replace", "pattern": {"Regex": "("}, "content": ""}}"#,
        "normalizer.pattern.Regex"
      ),
      (
        "{\(model), "
          + #""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "</s>"}}], "special_tokens": {}}}"#,
        "post_processor.single[0].SpecialToken.id"
      ),
      (#"{"model": {"type": "Unigram", "vocab": [["x", 0.0]]}}"#, ""),
    ]
    for (text, field) in cases {
      XCTAssertThrowsError(try HuggingFaceTokenizer(tokenizerJSON: Data(text.utf8), source: "t.json"), text) { error in
        let error = error as! TokenizerError
        XCTAssertEqual(error.file, "t.json")
        XCTAssertEqual(error.field ?? "", field, error.description)
      }
    }
  }

  func testConfigNamesTheSpecialTokens() throws {
    let folder = try makeTemporaryDirectory(self)
    try TokenizerFixtures.tokenizerData("unigram_t5").write(to: folder.appendingPathComponent(tokenizerFileName))
    let config = #"{"eos_token": "<extra_id_0>", "pad_token": {"content": "</s>", "__type": "AddedToken"}}"#
    try Data(config.utf8).write(to: folder.appendingPathComponent(tokenizerConfigFileName))
    let tokenizer = try loadTokenizer(from: folder)
    XCTAssertEqual(tokenizer.eosTokenID, 502)
    XCTAssertEqual(tokenizer.padTokenID, 1)
    XCTAssertEqual(tokenizer.unknownTokenID, 2)

    try Data(#"{"eos_token": "<nowhere>"}"#.utf8).write(to: folder.appendingPathComponent(tokenizerConfigFileName))
    let error = try loadError(folder)
    XCTAssertEqual(error.field, "eos_token")
    XCTAssertTrue(error.file.hasSuffix(tokenizerConfigFileName), error.description)
  }

  func testSaveWritesTheOriginalJSONBack() throws {
    for name in ["unigram_t5", "bart_bpe"] {
      let original = try TokenizerFixtures.tokenizer(name)
      let folder = try makeTemporaryDirectory(self)
      try original.save(to: folder)
      let written = try Data(contentsOf: folder.appendingPathComponent(tokenizerFileName))
      XCTAssertEqual(written, try TokenizerFixtures.tokenizerData(name))
      let config = try Data(contentsOf: folder.appendingPathComponent(tokenizerConfigFileName))
      let names = try XCTUnwrap(try JSONSerialization.jsonObject(with: config) as? [String: String])
      XCTAssertEqual(names["eos_token"], "</s>")
      XCTAssertEqual(names["pad_token"], "<pad>")
      let reloaded = try loadTokenizer(from: folder)
      XCTAssertEqual(reloaded.specials, original.specials)
      let text = "A <mask> café, 東京 🙂!"
      XCTAssertEqual(reloaded.encode(text), original.encode(text))
      XCTAssertEqual(reloaded.decode(reloaded.encode(text)), original.decode(original.encode(text)))
    }
  }

  func testSaveKeepsAGivenConfigFile() throws {
    let source = try makeTemporaryDirectory(self)
    try TokenizerFixtures.tokenizerData("unigram_t5").write(to: source.appendingPathComponent(tokenizerFileName))
    let config = Data(#"{"eos_token": "</s>", "model_max_length": 512}"#.utf8)
    try config.write(to: source.appendingPathComponent(tokenizerConfigFileName))
    let target = try makeTemporaryDirectory(self)
    try loadTokenizer(from: source).save(to: target)
    XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent(tokenizerConfigFileName)), config)
  }

  func testSpecialTokensMapFillsWhatTheConfigLeavesOut() throws {
    let source = try makeTemporaryDirectory(self)
    try TokenizerFixtures.tokenizerData("bart_bpe").write(to: source.appendingPathComponent(tokenizerFileName))
    let config = Data(#"{"model_max_length": 1024, "bos_token": "</s>"}"#.utf8)
    let map = Data(#"{"bos_token": "<unk>", "eos_token": {"content": "<mask>", "lstrip": true}}"#.utf8)
    try config.write(to: source.appendingPathComponent(tokenizerConfigFileName))
    try map.write(to: source.appendingPathComponent("special_tokens_map.json"))
    let tokenizer = try loadTokenizer(from: source)
    XCTAssertEqual(tokenizer.bosTokenID, 2)  // the config wins over the map
    XCTAssertEqual(tokenizer.eosTokenID, 4)
    XCTAssertEqual(tokenizer.padTokenID, 1)

    let target = try makeTemporaryDirectory(self)
    try tokenizer.save(to: target)
    XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent(tokenizerConfigFileName)), config)
    XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent("special_tokens_map.json")), map)
    XCTAssertEqual(try loadTokenizer(from: target).specials, tokenizer.specials)
  }

  func testBatchEncodingPadsWithThePadID() throws {
    let bart = try TokenizerFixtures.tokenizer("bart_bpe")
    let batch = bart.encodeBatch(["hello world", "", "the quick brown fox"], maxLength: 5)
    XCTAssertEqual(batch.ids.map(\.count), [5, 5, 5])
    XCTAssertEqual(batch.ids[1], [0, 2, 1, 1, 1])
    XCTAssertEqual(batch.attentionMask[1], [1, 1, 0, 0, 0])
    XCTAssertEqual(batch.ids[2].first, 0)
    XCTAssertEqual(batch.ids[2].last, 2)
  }

  /// A long document goes through every stage without quadratic blow-up.
  func testLongInputIsTokenized() throws {
    let text = String(repeating: "kari tone sumo, café 東京 🙂 aaaaaaaa!\n", count: 400)
    for name in ["unigram_t5", "unigram_bytes", "bart_bpe"] {
      let tokenizer = try TokenizerFixtures.tokenizer(name)
      let ids = tokenizer.encode(text)
      XCTAssertGreaterThan(ids.count, 4000, name)
      XCTAssertTrue(ids.allSatisfy { (0..<tokenizer.vocabularySize).contains($0) }, name)
    }
    let bart = try TokenizerFixtures.tokenizer("bart_bpe")
    XCTAssertEqual(bart.decode(bart.encode(text)), text)
  }

  private func write(_ text: String, in folder: URL) throws -> URL {
    try Data(text.utf8).write(to: folder.appendingPathComponent(tokenizerFileName))
    return folder
  }

  private func loadError(_ folder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> TokenizerError {
    do {
      _ = try loadTokenizer(from: folder)
    } catch let error as TokenizerError {
      return error
    }
    XCTFail("expected an error", file: file, line: line)
    throw TokenizerError(file: "", message: "no error")
  }
}
