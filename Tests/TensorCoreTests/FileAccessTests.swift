import Foundation
import TensorCore
import XCTest

final class FileAccessTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("file-access-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func testReadingNamesThePathAndTheReason() throws {
    let file = directory.appendingPathComponent("weights.bin")
    try Data([1, 2, 3]).write(to: file)
    XCTAssertEqual(try FileAccess.read(file), Data([1, 2, 3]))
    let missing = directory.appendingPathComponent("missing.json")
    XCTAssertThrowsError(try FileAccess.read(missing)) {
      XCTAssertEqual("\($0)", "cannot read '\(missing.path)': No such file or directory")
    }
    XCTAssertThrowsError(try FileAccess.read(directory)) {
      XCTAssertEqual("\($0)", "cannot read '\(directory.path)': it is a folder, not a file")
    }
  }

  func testCreatingAFolderNamesWhatIsInTheWay() throws {
    let nested = directory.appendingPathComponent("a/b/c")
    try FileAccess.createFolder(nested)
    try FileAccess.createFolder(nested)  // already there: fine
    var isFolder: ObjCBool = false
    XCTAssertTrue(FileManager.default.fileExists(atPath: nested.path, isDirectory: &isFolder) && isFolder.boolValue)

    let file = directory.appendingPathComponent("plain")
    try Data().write(to: file)
    XCTAssertThrowsError(try FileAccess.createFolder(file.appendingPathComponent("x/y"))) {
      XCTAssertEqual("\($0)", "cannot create the folder '\(file.path)/x/y': '\(file.path)' is a file")
    }
    XCTAssertThrowsError(try FileAccess.createFolder(file)) {
      XCTAssertEqual("\($0)", "cannot create the folder '\(file.path)': a file of that name exists")
    }
    #if os(Linux)
      // /proc takes no new folders, not even from root.
      XCTAssertThrowsError(try FileAccess.createFolder(URL(fileURLWithPath: "/proc/tessera-test/x"))) {
        XCTAssertTrue("\($0)".hasPrefix("cannot create the folder '/proc/tessera-test/x': '/proc/tessera-test': "), "\($0)")
      }
    #endif
  }
}
