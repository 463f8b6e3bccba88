import Foundation
import XCTest

@testable import ModularCompression

final class SHA256Tests: XCTestCase {
  private func hex(_ text: String) -> String { SHA256.hexDigest(of: Data(text.utf8)) }

  func testNISTVectors() {
    XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(
      hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    XCTAssertEqual(
      hex(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
  }

  func testOneMillionAFedIncrementally() {
    var hasher = SHA256()
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
    for _ in 0..<1000 { hasher.update(chunk) }
    XCTAssertEqual(SHA256.hex(hasher.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Lengths around the padding boundaries, against Python's hashlib.
  func testPaddingBoundaries() {
    let expected = [
      55: "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59",
      56: "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562",
      63: "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488",
      64: "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108",
      65: "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781",
      119: "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6",
      120: "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c",
      1000: "4e4c294b331f7a2099a379bec34b9f9fc03dc46ab465d998f4d683da53487e6d",
    ]
    for (count, digest) in expected {
      XCTAssertEqual(SHA256.hexDigest(of: Data(pattern(count))), digest, "length \(count)")
    }
  }

  /// Any split of the input into updates gives the one-shot digest.
  func testSplitUpdatesMatchOneShot() {
    let bytes = pattern(1000)
    let oneShot = SHA256.hexDigest(of: Data(bytes))
    for step in [1, 3, 63, 64, 65, 200] {
      var hasher = SHA256()
      var start = 0
      while start < bytes.count {
        hasher.update(Array(bytes[start..<min(start + step, bytes.count)]))
        start += step
      }
      XCTAssertEqual(SHA256.hex(hasher.finalize()), oneShot, "step \(step)")
    }
  }

  func testFileDigestStreamsInChunks() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let url = folder.appendingPathComponent("bytes.bin")
    try Data(pattern(1000)).write(to: url)
    for chunkSize in [7, 64, 1 << 20] {
      XCTAssertEqual(
        try SHA256.hexDigest(ofFile: url, chunkSize: chunkSize),
        "4e4c294b331f7a2099a379bec34b9f9fc03dc46ab465d998f4d683da53487e6d")
    }
    XCTAssertThrowsError(try SHA256.hexDigest(ofFile: folder.appendingPathComponent("missing.bin"))) {
      XCTAssertTrue("\($0)".contains("missing.bin"), "\($0)")
    }
  }

  /// Bytes `i % 251`, the pattern the expected digests were computed on.
  private func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }
}
