import JSONFormat
import XCTest

final class JSONParserTests: XCTestCase {
  private func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
    try JSONValue.parse(Array(text.utf8))
  }

  private func assertFails(
    _ text: String, _ reason: String, line: Int, column: Int, offset: Int, path: [String] = [],
    file: StaticString = #filePath, lineNumber: UInt = #line
  ) {
    do {
      let value = try parse(text)
      XCTFail("parsed \(value)", file: file, line: lineNumber)
    } catch {
      XCTAssertEqual(error.reason, reason, file: file, line: lineNumber)
      XCTAssertEqual([error.line, error.column, error.offset], [line, column, offset], "\(error)", file: file, line: lineNumber)
      XCTAssertEqual(error.path, path, file: file, line: lineNumber)
    }
  }

  func testParsesEveryKindInOrder() throws {
    let value = try parse(#" {"b": [1, -2.5e1, true, false, null], "a": "x\u00e9\ud83d\ude00\n"} "#)
    XCTAssertEqual(
      value,
      .object([
        ("b", .array([.number(1), .number(-25), .bool(true), .bool(false), .null])),
        ("a", .string("xé😀\n")),
      ]))
    XCTAssertEqual(value["a"], .string("xé😀\n"))
    XCTAssertNil(value["c"])
    guard case .array(let items)? = value["b"] else { return XCTFail("\(value)") }
    XCTAssertEqual(items[0].integerValue, 1)
    XCTAssertNil(items[2].integerValue)
  }

  func testTextRoundTrips() throws {
    let text = #"{"k":[1,0.002,-3,"q\"\\",{}],"n":null,"t":true}"#
    XCTAssertEqual(try parse(text).jsonText, text)
    // Found by the fuzzer: 5e18 was written as an integer literal the parser refuses.
    let large = try parse("[5e18]")
    XCTAssertEqual(try parse(large.jsonText), large)
  }

  func testDuplicateKeysAreRefusedNamingKeyAndPlace() {
    assertFails("{\"training\": {\"steps\": 1,\n \"steps\": 2}}", "duplicate key 'steps'", line: 2, column: 2, offset: 27, path: ["training"])
    do {
      _ = try parse(#"{"a":1,"a":2}"#)
    } catch {
      XCTAssertEqual(error.duplicateKey, "a")
      XCTAssertEqual(error.description, "line 1, column 8 (byte 7): duplicate key 'a'")
    }
  }

  func testKeysCompareByteForByte() throws {
    // "é" precomposed and decomposed are equal Swift strings but distinct keys.
    let value = try parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
    guard case .object(let members) = value else { return XCTFail("\(value)") }
    XCTAssertEqual(members.count, 2)
  }

  func testNumbersThatDoNotFitAreRefused() {
    assertFails("[1e999]", "number 1e999 is out of range", line: 1, column: 2, offset: 1, path: ["[0]"])
    assertFails(
      "[9007199254740993]", "integer 9007199254740993 is too large to hold exactly (the limit is ±2^53)",
      line: 1, column: 2, offset: 1, path: ["[0]"])
    assertFails("01", "unexpected text after the JSON value", line: 1, column: 2, offset: 1)
    assertFails("-", "expected a digit", line: 1, column: 2, offset: 1)
    assertFails("1.", "expected a digit after '.'", line: 1, column: 3, offset: 2)
  }

  func testNestingIsBounded() {
    let deep = String(repeating: "[", count: 200)
    do {
      _ = try parse(deep)
      XCTFail("parsed")
    } catch {
      XCTAssertEqual(error.reason, "nesting deeper than 128 levels")
      XCTAssertEqual(error.offset, 128)
    }
    XCTAssertThrowsError(try JSONValue.parse(Array("[[[1]]]".utf8), maximumDepth: 2))
    XCTAssertNoThrow(try JSONValue.parse(Array("[[1]]".utf8), maximumDepth: 2))
  }

  func testSyntaxErrorsNameLineColumnAndPath() {
    assertFails("{\n  \"model\": {\"x\": tru}}", "expected 'true'", line: 2, column: 21, offset: 22, path: ["model", "x"])
    assertFails("{\"a\" 1}", "expected ':'", line: 1, column: 6, offset: 5)
    assertFails("[1,]", "unexpected character ']'", line: 1, column: 4, offset: 3, path: ["[1]"])
    assertFails("{\"a\": \"x", "unterminated string", line: 1, column: 7, offset: 6, path: ["a"])
    assertFails("\"a\tb\"", "control character in a string", line: 1, column: 3, offset: 2)
    assertFails("\"\\ud800\"", "expected '\\u'", line: 1, column: 8, offset: 7)
    assertFails("", "unexpected end of the JSON text", line: 1, column: 1, offset: 0)
  }

  func testInvalidUTF8InAStringIsRefusedAtItsByte() {
    do {
      _ = try JSONValue.parse([0x22, 0x61, 0xFF, 0x22])
      XCTFail("parsed")
    } catch {
      XCTAssertEqual(error.reason, "invalid UTF-8 in a string")
      XCTAssertEqual(error.offset, 2)
    }
  }
}
