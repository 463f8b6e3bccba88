import XCTest

@testable import TensorCore

final class AtomicFileTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("AtomicFileTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try FileManager.default.removeItem(at: directory)
  }

  private func directoryContents() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
  }

  func testCreatesAndReplacesFile() throws {
    let url = directory.appendingPathComponent("model.bin")
    try AtomicFile.write(Data("first".utf8), to: url)
    XCTAssertEqual(try Data(contentsOf: url), Data("first".utf8))
    try AtomicFile.write(Data("second, longer".utf8), to: url)
    XCTAssertEqual(try Data(contentsOf: url), Data("second, longer".utf8))
    try AtomicFile.write(Data(), to: url)
    XCTAssertEqual(try Data(contentsOf: url), Data())
    XCTAssertEqual(try directoryContents(), ["model.bin"], "no temporary file is left behind")
  }

  func testStreamingWriterCountsBytes() throws {
    let url = directory.appendingPathComponent("streamed.bin")
    var counted = 0
    try AtomicFile.write(to: url) { writer in
      try writer.write(Data([1, 2, 3]))
      try [UInt8](repeating: 9, count: 5).withUnsafeBytes { try writer.write($0) }
      counted = writer.byteCount
    }
    XCTAssertEqual(counted, 8)
    XCTAssertEqual(try Data(contentsOf: url), Data([1, 2, 3, 9, 9, 9, 9, 9]))
  }

  func testFailedWriteLeavesOldFileIntact() throws {
    struct Interrupted: Error {}
    let url = directory.appendingPathComponent("manifest.json")
    try AtomicFile.write(Data("old contents".utf8), to: url)
    XCTAssertThrowsError(
      try AtomicFile.write(to: url) { writer in
        try writer.write(Data("half of the new".utf8))
        throw Interrupted()
      }
    ) { error in
      XCTAssert(error is Interrupted, "the producer's own error is rethrown, got \(error)")
    }
    XCTAssertEqual(try Data(contentsOf: url), Data("old contents".utf8))
    XCTAssertEqual(try directoryContents(), ["manifest.json"], "the temporary file is removed")
  }

  func testFailedRenameLeavesDestinationAndCleansUp() throws {
    // A non-empty folder cannot be replaced by a file, so the final rename fails.
    let url = directory.appendingPathComponent("occupied")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    try Data("keep".utf8).write(to: url.appendingPathComponent("inside"))
    XCTAssertThrowsError(try AtomicFile.write(Data("new".utf8), to: url)) { error in
      guard let error = error as? AtomicFileError else { return XCTFail("unexpected \(error)") }
      XCTAssertEqual(error.step, .rename)
      XCTAssertEqual(error.description, "cannot replace '\(url.path)': it is a folder, not a file")
    }
    XCTAssertEqual(try directoryContents(), ["occupied"])
    XCTAssertEqual(try Data(contentsOf: url.appendingPathComponent("inside")), Data("keep".utf8))
  }

  func testMissingFolderGivesErrorNamingThePath() throws {
    let url = directory.appendingPathComponent("no-such-folder/file.txt")
    XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url)) { error in
      guard let error = error as? AtomicFileError else { return XCTFail("unexpected \(error)") }
      XCTAssertEqual(error.step, .createTemporary)
      XCTAssertEqual(error.code, ENOENT)
      XCTAssertEqual(
        error.localizedDescription,
        "cannot write '\(url.path)': the folder '\(url.deletingLastPathComponent().path)' does not exist")
    }
  }

  func testFileInPlaceOfTheFolderIsNamed() throws {
    let blocker = directory.appendingPathComponent("plain-file")
    try Data("x".utf8).write(to: blocker)
    let url = blocker.appendingPathComponent("out.json")
    XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url)) { error in
      XCTAssertEqual("\(error)", "cannot write '\(url.path)': '\(blocker.path)' is not a folder")
    }
  }
}
