import XCTest

@testable import TensorCore

/// `TESSERA_THREADS` and `TESSERA_SIMD` values that cannot be used are named
/// in a warning with what runs instead, not ignored silently.
final class EnvironmentSettingsTests: XCTestCase {
  func testThreadCounts() {
    XCTAssertEqual(EnvironmentSettings.threads(from: nil, cores: 8).value, nil)
    XCTAssertNil(EnvironmentSettings.threads(from: "", cores: 8).warning)
    XCTAssertEqual(EnvironmentSettings.threads(from: "3", cores: 8).value, 3)
    XCTAssertNil(EnvironmentSettings.threads(from: "3", cores: 8).warning)
    for bad in ["abc", "0", "-2", "2.5", "100000"] {
      let parsed = EnvironmentSettings.threads(from: bad, cores: 8)
      XCTAssertNil(parsed.value, bad)
      XCTAssertEqual(
        parsed.warning, "ignoring TESSERA_THREADS='\(bad)' (expected a whole number from 1 to 1024); using 8 threads, one per core")
    }
  }

  func testKernelChoice() {
    XCTAssertEqual(EnvironmentSettings.forcesBaseline(from: nil).value, false)
    XCTAssertEqual(EnvironmentSettings.forcesBaseline(from: "auto").value, false)
    XCTAssertEqual(EnvironmentSettings.forcesBaseline(from: "Baseline").value, true)
    XCTAssertNil(EnvironmentSettings.forcesBaseline(from: "baseline").warning)
    let parsed = EnvironmentSettings.forcesBaseline(from: "avx2")
    XCTAssertEqual(parsed.value, false)
    XCTAssertTrue(parsed.warning?.hasPrefix("ignoring TESSERA_SIMD='avx2' (expected auto or baseline); using auto (") ?? false)
  }
}
