import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// A data-parallel step's pieces: each process's block of the batch, and
/// dropout masks that are slices of the whole batch's.
final class BatchShardTests: XCTestCase {
  func testShardsCoverTheBatchInBalancedBlocks() throws {
    let batch = CopyTaskSchedule().batch(forStep: 3)
    let shards = try (0..<3).map { try batch.shard(rank: $0, size: 3) }
    XCTAssertEqual(shards.map(\.batchSize), [2, 3, 3])
    XCTAssertEqual(shards.map { $0.rows?.first }, [0, 2, 5])
    XCTAssertEqual(shards.flatMap(\.sourceIDs), batch.sourceIDs)
    XCTAssertEqual(shards.flatMap(\.sourceKeep), batch.sourceKeep)
    XCTAssertEqual(shards.flatMap(\.labels), batch.labels)
    XCTAssertEqual(shards.flatMap(\.decoderInputIDs), batch.decoderInputIDs)
    XCTAssertEqual(shards.map(\.countedTargets).reduce(0, +), batch.countedTargets)
    XCTAssertEqual(
      shards.map(\.tokenShare), shards.map { Float($0.countedTargets) / Float(batch.countedTargets) })
    XCTAssertEqual(batch.tokenShare, 1)
    XCTAssertTrue(shards.allSatisfy { $0.sourceLength == batch.sourceLength && $0.targetLength == batch.targetLength })
    XCTAssertNil(try batch.shard(rank: 0, size: 1).rows, "one process keeps the batch whole")
  }

  func testTooFewExamplesForTheProcessesIsAnError() {
    let batch = CopyTaskSchedule().batch(forStep: 1)
    XCTAssertThrowsError(try batch.shard(rank: 0, size: batch.batchSize + 1)) { error in
      XCTAssertTrue("\(error)".contains("cannot be shared by \(batch.batchSize + 1) processes"), "\(error)")
    }
  }

  /// Each process's masks are its rows of the one-process masks, call after call.
  func testDropoutOfAShardIsTheSliceOfTheWholeBatchMask() {
    let generator = SeededRandom(seed: 5).split(9)
    let whole = Dropout(rate: 0.5, generator: generator)
    let parts = [BatchRows(first: 0, count: 1, total: 4), BatchRows(first: 1, count: 3, total: 4)].map {
      Dropout(rate: 0.5, generator: generator, rows: $0)
    }
    for width in [6, 10] {
      let x = Tensor([Float](repeating: 1, count: 4 * width), shape: [4, width])
      let expected = whole(x).scalars
      let first = parts[0](Tensor([Float](repeating: 1, count: width), shape: [1, width])).scalars
      let rest = parts[1](Tensor([Float](repeating: 1, count: 3 * width), shape: [3, width])).scalars
      XCTAssertEqual(first + rest, expected, "width \(width)")
      XCTAssertTrue(expected.contains(0) && expected.contains(2))
    }
  }
}
