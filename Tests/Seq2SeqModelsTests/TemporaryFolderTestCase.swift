import Foundation
import XCTest

/// A test case with a fresh temporary folder per test, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
  var temporary: URL!

  override func setUpWithError() throws {
    temporary = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(type(of: self))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temporary) }
}
