import XCTest

import TensorCore
@testable import TextTasks

final class DataFileTests: XCTestCase {
  private var folder: URL!

  override func setUpWithError() throws { folder = try temporaryFolder() }
  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  private func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
    let url = folder.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
  }

  private func file(_ name: String, _ text: String) throws -> URL { try file(name, Array(text.utf8)) }

  private func read(_ url: URL, _ options: DataFileOptions = DataFileOptions()) throws -> [Example] {
    try DataFileReader(url: url, options: options).readAll()
  }

  /// Asserts reading fails with `reason` at `line`, and that the message names the file.
  private func assertFails(_ url: URL, line: Int?, _ reason: DataFileError.Reason, _ options: DataFileOptions = DataFileOptions(),
                           file: StaticString = #filePath, sourceLine: UInt = #line) {
    XCTAssertThrowsError(try read(url, options), file: file, line: sourceLine) { error in
      guard let error = error as? DataFileError else { return XCTFail("\(error)", file: file, line: sourceLine) }
      XCTAssertEqual(error.reason, reason, file: file, line: sourceLine)
      XCTAssertEqual(error.line, line, file: file, line: sourceLine)
      XCTAssertTrue(error.description.hasPrefix(url.path + (line.map { ":\($0):" } ?? ":")), error.description, file: file, line: sourceLine)
    }
  }

  func testJSONLRoundTripKeepsEveryCharacter() throws {
    let examples = [
      Example(source: "quote \" backslash \\ tab \t newline \n", target: "é 日本 🙂 \u{1}"),
      Example(source: "", target: "empty source"),
    ]
    let url = folder.appendingPathComponent("round.jsonl")
    try DataFileWriter.writeJSONL(examples, to: url)
    XCTAssertEqual(try read(url), examples)
    let text = try String(contentsOf: url, encoding: .utf8)
    XCTAssertTrue(text.hasPrefix("{\"source\": \"quote \\\" backslash \\\\ tab \\t newline \\n\", \"target\": \"é 日本 🙂 \\u0001\"}\n"), text)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp") }
    XCTAssertEqual(leftovers, [], "the atomic write leaves no temporary file")
  }

  func testJSONLCustomFieldsCRLFBlankLinesAndBOM() throws {
    let url = try file("custom.jsonl", [0xEF, 0xBB, 0xBF] + Array("{\"in\": \"a\", \"out\": \"b\", \"id\": 3}\r\n\n   \n{\"out\": \"d\", \"in\": \"c\"}".utf8))
    let examples = try read(url, DataFileOptions(sourceField: "in", targetField: "out"))
    XCTAssertEqual(examples, [Example(source: "a", target: "b"), Example(source: "c", target: "d")])
  }

  func testEachBadInputCase() throws {
    let good = "{\"source\": \"a\", \"target\": \"b\"}\n"
    // Bad JSON: compare only the kind, as the parser's wording varies.
    XCTAssertThrowsError(try read(try file("json.jsonl", good + "{source: 1}\n"))) { error in
      guard let error = error as? DataFileError, case .badJSON = error.reason else { return XCTFail("\(error)") }
      XCTAssertEqual(error.line, 2)
    }
    assertFails(try file("array.jsonl", good + "[1, 2]\n"), line: 2, .notAnObject)
    assertFails(try file("missing.jsonl", good + good + "{\"source\": \"a\"}\n"), line: 3, .missingField("target"))
    assertFails(try file("number.jsonl", "{\"source\": \"a\", \"target\": 5}\n"), line: 1, .fieldNotString("target"))
    assertFails(try file("columns.tsv", "a\tb\nc\td\te\n"), line: 2, .wrongColumnCount(expected: 2, found: 3))
    assertFails(try file("columns.csv", "a,b\nc\n"), line: 2, .wrongColumnCount(expected: 2, found: 1))
    assertFails(try file("utf8.jsonl", Array(good.utf8) + [0x7B, 0xC3, 0x28, 0x7D, 0x0A]), line: 2, .invalidUTF8)
    assertFails(try file("utf8.tsv", [0x61, 0x09, 0xFF, 0x0A]), line: 1, .invalidUTF8)
    assertFails(try file("empty.jsonl", ""), line: nil, .emptyFile(skippedLines: 0))
    assertFails(try file("blank.tsv", "\n\n  \n"), line: nil, .emptyFile(skippedLines: 0))
    assertFails(try file("header-only.csv", "source,target\n"), line: nil, .emptyFile(skippedLines: 0))
    assertFails(try file("open.csv", "a,b\n\"never closed,x\nmore\n"), line: 2, .badQuote("a quoted field is never closed"))
    assertFails(try file("after.csv", "\"a\"b,c\n"), line: 1, .badQuote("text after a closing quote"))
    assertFails(try file("inside.csv", "a\"b,c\n"), line: 1, .badQuote("a quote inside an unquoted field"))
    assertFails(try file("data.txt", "a\tb\n"), line: nil, .unknownFormat("txt"))
    let missing = folder.appendingPathComponent("nope.jsonl")
    XCTAssertThrowsError(try read(missing)) { error in
      XCTAssertTrue("\(error)".contains(missing.path), "\(error)")
    }
  }

  func testSkipBadLinesCountsThem() throws {
    let url = try file("mixed.jsonl", "{\"source\": \"a\", \"target\": \"b\"}\nnot json\n{\"source\": \"x\"}\n{\"source\": \"c\", \"target\": \"d\"}\n")
    let reader = try DataFileReader(url: url, options: DataFileOptions(skipBadLines: true))
    XCTAssertEqual(try reader.readAll(), [Example(source: "a", target: "b"), Example(source: "c", target: "d")])
    XCTAssertEqual(reader.skippedLines, 2)
    assertFails(try file("allbad.jsonl", "x\ny\n"), line: nil, .emptyFile(skippedLines: 2), DataFileOptions(skipBadLines: true))
  }

  func testCSVQuotesHeadersAndMultilineFields() throws {
    let csv = "id,target,source\n1,\"say \"\"hi\"\", then go\",\"line one\nline two\"\n2,,plain\n"
    let examples = try read(try file("quoted.csv", csv))
    XCTAssertEqual(examples, [
      Example(source: "line one\nline two", target: "say \"hi\", then go"),
      Example(source: "plain", target: ""),
    ])
    // Line numbers keep counting through a multi-line record.
    assertFails(try file("later.csv", csv + "3,x\n"), line: 5, .wrongColumnCount(expected: 3, found: 2))
    XCTAssertEqual(try read(try file("plain.csv", "a,b\n\"\",\"c,d\"\n")), [Example(source: "a", target: "b"), Example(source: "", target: "c,d")])
  }

  func testTSVWithHeaderAndExplicitFormat() throws {
    let url = try file("data.txt", "target\tsource\nB\tA\n")
    XCTAssertEqual(try read(url, DataFileOptions(format: .tsv)), [Example(source: "A", target: "B")])
  }

  func testStreamingReadsLinesLongerThanTheBuffer() throws {
    let long = String(repeating: "ab", count: 100_000)
    var text = ""
    for i in 0..<3 { text += "{\"source\": \"\(long)\(i)\", \"target\": \"t\(i)\"}\n" }
    let examples = try read(try file("long.jsonl", text))
    XCTAssertEqual(examples.map(\.target), ["t0", "t1", "t2"])
    XCTAssertEqual(examples[2].source.count, 200_001)
  }

  func testSegmentFileLines() throws {
    XCTAssertEqual(try SegmentFile.readLines(try file("hyp.txt", "a b\n\nc\r\n")), ["a b", "", "c"])
    XCTAssertEqual(try SegmentFile.readLines(try file("nonl.txt", "x\ny")), ["x", "y"])
    XCTAssertThrowsError(try SegmentFile.readLines(try file("bad.txt", [0x61, 0x0A, 0xC0, 0x0A]))) { error in
      XCTAssertEqual((error as? DataFileError)?.line, 2)
    }
  }
}
