import Foundation
import TensorCore
import XCTest

final class AtomicFolderTests: XCTestCase {
  private var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-folder-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: root)
  }

  private func folder(_ name: String, holding text: String) throws -> URL {
    let url = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url.appendingPathComponent("file.txt"))
    return url
  }

  private func text(in folder: URL) throws -> String {
    try String(contentsOf: folder.appendingPathComponent("file.txt"), encoding: .utf8)
  }

  private var names: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted() }

  /// Replaces a folder "old" with a staged "new" and checks that nothing else is left.
  private func assertReplacesAndLeavesNoSiblings(file: StaticString = #filePath, line: UInt = #line) throws {
    let target = try folder("model", holding: "old")
    let staging = AtomicFolder.stagingURL(for: target)
    _ = try folder(staging.lastPathComponent, holding: "new")
    try AtomicFolder.replace(target, with: staging)
    XCTAssertEqual(try text(in: target), "new", file: file, line: line)
    XCTAssertEqual(names, ["model"], file: file, line: line)
  }

  func testReplacesAFolderAndLeavesNoSiblings() throws {
    try assertReplacesAndLeavesNoSiblings()
  }

  /// The two-rename fallback gives the same result.
  func testReplacesWithoutAnExchange() throws {
    setenv(AtomicFolder.withoutExchangeVariable, "1", 1)
    defer { unsetenv(AtomicFolder.withoutExchangeVariable) }
    try assertReplacesAndLeavesNoSiblings()
  }

  /// What a kill between the two renames leaves — no target, an old copy and a
  /// complete new one — is recovered to the old copy, and the next swap cleans up.
  func testRecoversTheOldCopyAfterAKillBetweenTheRenames() throws {
    let target = root.appendingPathComponent("model")
    _ = try folder(".model.old-1", holding: "old")
    _ = try folder(".model.partial-2", holding: "new")
    XCTAssertTrue(AtomicFolder.recover(target))
    XCTAssertEqual(try text(in: target), "old")
    XCTAssertFalse(AtomicFolder.recover(target), "a present folder is left alone")

    let staging = AtomicFolder.stagingURL(for: target)
    _ = try folder(staging.lastPathComponent, holding: "newer")
    try AtomicFolder.replace(target, with: staging)
    XCTAssertEqual(try text(in: target), "newer")
    XCTAssertEqual(names, ["model"], "leftovers are removed by the next successful swap")
  }

  func testRefusesToReplaceAFile() throws {
    let target = root.appendingPathComponent("model")
    try Data("mine".utf8).write(to: target)
    let staging = try folder(AtomicFolder.stagingURL(for: target).lastPathComponent, holding: "new")
    XCTAssertThrowsError(try AtomicFolder.replace(target, with: staging)) { error in
      XCTAssertTrue("\(error)".contains("is a file"), "\(error)")
    }
    XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "mine")
  }

  /// The folder the process works in, or one above it, is never swapped away.
  func testRefusesToReplaceTheCurrentFolderOrOneAboveIt() throws {
    let target = try folder("project", holding: "mine")
    let inside = target.appendingPathComponent("teacher")
    try FileManager.default.createDirectory(at: inside, withIntermediateDirectories: true)
    let previous = FileManager.default.currentDirectoryPath
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }
    for current in [target, inside] {
      XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(current.path))
      let staging = try folder(AtomicFolder.stagingURL(for: target).lastPathComponent, holding: "new")
      XCTAssertThrowsError(try AtomicFolder.replace(target, with: staging)) { error in
        XCTAssertTrue("\(error)".contains("current folder"), "\(error)")
      }
      try FileManager.default.removeItem(at: staging)
    }
    FileManager.default.changeCurrentDirectoryPath(previous)
    XCTAssertEqual(try text(in: target), "mine")
  }
}
