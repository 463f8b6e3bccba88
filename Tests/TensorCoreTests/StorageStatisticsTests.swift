import TensorCore
import XCTest

final class StorageStatisticsTests: XCTestCase {
  func testLiveAndHeldBytesFollowAllocationsAndThePeakRemembersTheMost() {
    let elements = 1 << 19  // 2 MiB: a size the pool keeps
    StorageStatistics.resetPeaks()
    let before = StorageStatistics.liveBytes
    var first: TensorStorage? = TensorStorage(count: elements, repeating: 1)
    XCTAssertEqual(StorageStatistics.liveBytes - before, elements * 4)
    var second: TensorStorage? = TensorStorage(count: elements, repeating: 2)
    XCTAssertGreaterThanOrEqual(StorageStatistics.peakLiveBytes - before, 2 * elements * 4)
    XCTAssertEqual(second?.pointer[0], 2)
    first = nil
    second = nil
    XCTAssertEqual(StorageStatistics.liveBytes, before)
    // Freed buffers the pool keeps still count as held until reused.
    XCTAssertGreaterThanOrEqual(StorageStatistics.heldBytes, StorageStatistics.liveBytes)
    XCTAssertGreaterThanOrEqual(StorageStatistics.peakHeldBytes, StorageStatistics.peakLiveBytes)
    XCTAssertNil(first)
    StorageStatistics.resetPeaks()
    XCTAssertEqual(StorageStatistics.peakLiveBytes, StorageStatistics.liveBytes)
  }

  func testPeakResidentSetIsAtLeastTheCurrentOne() throws {
    let peak = ProcessMemory.peakResidentBytes
    XCTAssertGreaterThan(peak, 0)
    #if os(Linux)
      let now = try XCTUnwrap(ProcessMemory.residentBytes)
      XCTAssertGreaterThan(now, 0)
      // Both in whole pages; the peak can never be below what is resident now.
      XCTAssertGreaterThanOrEqual(peak + 4096, now, "peak RSS \(peak) below the current \(now)")
    #endif
  }
}
