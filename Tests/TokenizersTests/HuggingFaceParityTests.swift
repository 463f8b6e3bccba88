import Foundation
import XCTest

@testable import Tokenizers

/// Every fixture string must encode and decode exactly as the Hugging Face
/// `tokenizers` library did when the fixtures were written.
final class HuggingFaceParityTests: XCTestCase {
  func testUnigramT5MatchesReference() throws {
    try checkParity("unigram_t5")
  }

  func testUnigramLegacyLayoutMatchesReference() throws {
    try checkParity("unigram_legacy")
  }

  func testUnigramByteFallbackMatchesReference() throws {
    try checkParity("unigram_bytes")
  }

  func testByteLevelBPEMatchesReference() throws {
    try checkParity("bart_bpe")
  }

  /// Older files write each merge as one "left right" string.
  func testBPEMergesWrittenAsStringsGiveTheSameIDs() throws {
    let data = try TokenizerFixtures.tokenizerData("bart_bpe")
    var root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    var model = try XCTUnwrap(root["model"] as? [String: Any])
    let pairs = try XCTUnwrap(model["merges"] as? [[String]])
    model["merges"] = pairs.map { $0.joined(separator: " ") }
    root["model"] = model
    let rewritten = try JSONSerialization.data(withJSONObject: root)
    let tokenizer = try HuggingFaceTokenizer(tokenizerJSON: rewritten)
    let reference = try XCTUnwrap(try TokenizerFixtures.cases().tokenizers["bart_bpe"])
    for item in reference.cases {
      XCTAssertEqual(tokenizer.encode(item.text), item.ids, "text: \(item.text.debugDescription)")
    }
  }

  func testSpecialTokenIDsComeFromTheConventionalNames() throws {
    let t5 = try TokenizerFixtures.tokenizer("unigram_t5")
    XCTAssertEqual(t5.specials, TokenizerSpecials(padID: 0, eosID: 1, unknownID: 2))
    XCTAssertEqual(t5.specialTokenCount, 1)
    XCTAssertEqual(t5.modelType, "Unigram")
    let bart = try TokenizerFixtures.tokenizer("bart_bpe")
    XCTAssertEqual(bart.specials, TokenizerSpecials(padID: 1, eosID: 2, unknownID: 3, bosID: 0, maskID: 4))
    XCTAssertEqual(bart.specialTokenCount, 2)
    XCTAssertEqual(bart.modelType, "BPE")
  }

  private func checkParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let cases = try TokenizerFixtures.cases()
    let reference = try XCTUnwrap(cases.tokenizers[name], "no cases for \(name)")
    let tokenizer = try TokenizerFixtures.tokenizer(name)
    XCTAssertEqual(tokenizer.vocabularySize, reference.vocabSize, file: file, line: line)
    XCTAssertGreaterThanOrEqual(reference.cases.count, 50)
    var failures = 0
    for item in reference.cases {
      let context = "\(name), text: \(item.text.debugDescription)"
      let ids = tokenizer.encode(item.text)
      XCTAssertEqual(ids, item.ids, context, file: file, line: line)
      XCTAssertEqual(
        tokenizer.encode(item.text, addSpecialTokens: false), item.idsWithoutSpecialTokens, context, file: file,
        line: line)
      XCTAssertEqual(
        tokenizer.encode(item.text, maxLength: cases.truncateTo), item.idsTruncated, context, file: file, line: line)
      // Text is compared byte for byte: Swift's `==` accepts canonically equivalent text.
      XCTAssertEqual(Array(tokenizer.decode(item.ids).utf8), Array(item.decoded.utf8), context, file: file, line: line)
      XCTAssertEqual(
        Array(tokenizer.decode(item.ids, skipSpecialTokens: false).utf8), Array(item.decodedWithSpecialTokens.utf8),
        context,
        file: file, line: line)
      let half = Array(item.ids.prefix((item.ids.count + 1) / 2))
      XCTAssertEqual(
        Array(tokenizer.decode(half).utf8), Array(item.halfIDsDecoded.utf8), context, file: file, line: line)
      if ids != item.ids { failures += 1 }
    }
    XCTAssertEqual(
      failures, 0, "\(name): \(failures) of \(reference.cases.count) encodings differ", file: file, line: line)
    for item in reference.randomDecodes {
      let context = "\(name), ids: \(item.ids)"
      XCTAssertEqual(Array(tokenizer.decode(item.ids).utf8), Array(item.decoded.utf8), context, file: file, line: line)
      XCTAssertEqual(
        Array(tokenizer.decode(item.ids, skipSpecialTokens: false).utf8), Array(item.decodedWithSpecialTokens.utf8),
        context,
        file: file, line: line)
    }
  }
}
