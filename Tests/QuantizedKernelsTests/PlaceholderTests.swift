import QuantizedKernels
import XCTest

final class QuantizedKernelsLevelTests: XCTestCase {
  func testLevelsAreInRange() {
    XCTAssert((0...3).contains(tq_int8_level()))
    XCTAssert((0...2).contains(tq_bf16_level()))
  }
}
