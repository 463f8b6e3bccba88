import Foundation
import XCTest

@testable import Tokenizers

final class ByteTokenizerTests: XCTestCase {
  let tokenizer = ByteTokenizer()

  func testIDsAreBytesPlusThreeThenEOS() {
    XCTAssertEqual(tokenizer.encode("Hi"), [72 + 3, 105 + 3, 1])
    XCTAssertEqual(tokenizer.encode("é", addSpecialTokens: false), [0xC3 + 3, 0xA9 + 3])
    XCTAssertEqual(tokenizer.encode(""), [1])
    XCTAssertEqual(tokenizer.vocabularySize, 259)
    XCTAssertEqual(tokenizer.specials, TokenizerSpecials(padID: 0, eosID: 1, unknownID: 2))
    XCTAssertNil(tokenizer.bosTokenID)
  }

  func testRoundTripOfAwkwardText() throws {
    let reference = try TokenizerFixtures.cases().tokenizers["unigram_t5"]!
    for text in reference.cases.map(\.text) + ["🙂 e\u{301}", "\u{0}nul", String(repeating: "ab", count: 500)] {
      let ids = tokenizer.encode(text)
      XCTAssertTrue(ids.allSatisfy { (0..<259).contains($0) })
      XCTAssertEqual(tokenizer.decode(ids).utf8.elementsEqual(text.utf8), true, text.debugDescription)
    }
  }

  func testInvalidUTF8DecodesToReplacementCharacters() {
    // A lone continuation byte, a truncated 3-byte sequence, then valid text.
    let ids = [0x80 + 3, 0xE6 + 3, 0x9D + 3, Int(UInt8(ascii: "a")) + 3]
    XCTAssertEqual(tokenizer.decode(ids), "\u{FFFD}\u{FFFD}a")
    // Cutting a multi-byte character in half must not crash either.
    let emoji = tokenizer.encode("🙂", addSpecialTokens: false)
    XCTAssertEqual(tokenizer.decode(Array(emoji.prefix(2))), "\u{FFFD}")
  }

  func testSpecialTokensAreSkippedOrNamed() {
    let ids = [0, 72 + 3, 1, 2, 999, -5]
    XCTAssertEqual(tokenizer.decode(ids), "H")
    XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: false), "<pad>H</s><unk>")
    XCTAssertEqual(tokenizer.token(forID: 3 + 0x41), "<0x41>")
    XCTAssertEqual(tokenizer.id(forToken: "<0x41>"), 3 + 0x41)
    XCTAssertEqual(tokenizer.id(forToken: "</s>"), 1)
    XCTAssertNil(tokenizer.id(forToken: "a"))
    XCTAssertNil(tokenizer.token(forID: 259))
  }

  func testTruncationKeepsEOS() {
    XCTAssertEqual(tokenizer.encode("abcdef", maxLength: 3), [97 + 3, 98 + 3, 1])
    XCTAssertEqual(tokenizer.encode("abcdef", addSpecialTokens: false, maxLength: 2), [97 + 3, 98 + 3])
    XCTAssertEqual(tokenizer.encode("abc", maxLength: 0), [])
  }

  func testBatchIsPaddedWithMask() {
    let batch = tokenizer.encodeBatch(["ab", "", "abcd"])
    XCTAssertEqual(batch.lengths, [3, 1, 5])
    XCTAssertEqual(batch.ids[1], [1, 0, 0, 0, 0])
    XCTAssertEqual(batch.attentionMask[0], [1, 1, 1, 0, 0])
    let fixed = tokenizer.encodeBatch(["ab", "abcdef"], padding: .fixed(4))
    XCTAssertEqual(fixed.ids, [[100, 101, 1, 0], [100, 101, 102, 1]])
    XCTAssertEqual(fixed.attentionMask, [[1, 1, 1, 0], [1, 1, 1, 1]])
    XCTAssertEqual(tokenizer.encodeBatch([]).ids, [])
  }

  func testSaveAndLoadFromModelFolder() throws {
    let folder = try makeTemporaryDirectory(self)
    try tokenizer.save(to: folder)
    let loaded = try loadTokenizer(from: folder)
    XCTAssertTrue(loaded is ByteTokenizer)
    XCTAssertEqual(loaded.encode("héllo"), tokenizer.encode("héllo"))
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    XCTAssertEqual(leftovers, [tokenizerFileName])
  }
}
