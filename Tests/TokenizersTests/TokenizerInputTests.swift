import Foundation
import XCTest

@testable import Tokenizers

final class TokenizerInputTests: XCTestCase {
  func testEmptyBPEVocabularyIsRefused() {
    let text = #"{"model": {"type": "BPE", "vocab": {}, "merges": []}}"#
    XCTAssertThrowsError(try HuggingFaceTokenizer(tokenizerJSON: Data(text.utf8), source: "t.json")) {
      let error = $0 as? TokenizerError
      XCTAssertEqual(error?.field, "model.vocab", "\($0)")
      XCTAssertEqual(error?.message, "empty vocabulary")
    }
  }

  func testInvalidUTF8IsRefusedWithItsByteOffset() throws {
    var bytes = Array("ok\r\nfine\n".utf8)
    bytes += [0x61, 0x62, 0xC3, 0x28, 0x0A]  // "ab", a broken two-byte sequence
    XCTAssertThrowsError(try TextLines.decode(Data(bytes), source: "standard input")) {
      XCTAssertEqual($0 as? InvalidTextError, InvalidTextError(source: "standard input", line: 3, byteOffset: 11))
      XCTAssertEqual("\($0)", "standard input: line 3: invalid UTF-8 at byte offset 11")
    }
    XCTAssertEqual(try TextLines.decode(Data([0xEF, 0xBB, 0xBF] + Array("é\r\n\nlast".utf8)), source: "s"), ["é", "", "last"])
    XCTAssertEqual(try TextLines.decode(Data("a\n".utf8), source: "s"), ["a"])
  }
}
