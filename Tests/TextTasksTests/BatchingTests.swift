import XCTest

import TensorCore
@testable import TextTasks

final class BatchingTests: XCTestCase {
  /// 500 examples with lengths spread over 1...60.
  private func lengths(seed: UInt64) -> ([Int], [Int]) {
    var random = SeededRandom(seed: seed)
    let sources = (0..<500).map { _ in random.nextInt(in: 1...60) }
    let targets = (0..<500).map { _ in random.nextInt(in: 1...30) }
    return (sources, targets)
  }

  func testEveryExampleOnceWithinBudgetAndDeterministic() throws {
    let (sources, targets) = lengths(seed: 1)
    let batcher = try TokenBudgetBatcher(sourceLengths: sources, targetLengths: targets, tokenBudget: 600, poolSize: 128)
    let batches = batcher.batches(epoch: 0, seed: 42)
    XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<500))
    for batch in batches {
      let padded = batch.count * (batch.map { sources[$0] }.max()! + batch.map { targets[$0] }.max()!)
      XCTAssertLessThanOrEqual(padded, 600)
    }
    XCTAssertEqual(batcher.batches(epoch: 0, seed: 42), batches)
    XCTAssertNotEqual(batcher.batches(epoch: 1, seed: 42), batches, "each epoch reshuffles")
    XCTAssertNotEqual(batcher.batches(epoch: 0, seed: 43), batches)
  }

  func testBucketingPadsLessThanRandomBatches() throws {
    // Target lengths follow source lengths, as in real seq2seq data.
    let sources = lengths(seed: 2).0
    let targets = sources.enumerated().map { $1 / 2 + $0 % 3 }
    let batcher = try TokenBudgetBatcher(sourceLengths: sources, targetLengths: targets, tokenBudget: 800)
    let batches = batcher.batches(epoch: 0, seed: 1)
    let real = sources.reduce(0, +) + targets.reduce(0, +)
    let padded = batches.reduce(0) { total, batch in
      total + batch.count * (batch.map { sources[$0] }.max()! + batch.map { targets[$0] }.max()!)
    }
    XCTAssertGreaterThan(Double(real) / Double(padded), 0.85, "sorted pools keep padding small")
    XCTAssertGreaterThan(batches.filter { $0.count > 1 }.count, batches.count / 2)
  }

  func testOversizedExamplesGetTheirOwnBatch() throws {
    let batcher = try TokenBudgetBatcher(sources: [[1, 2, 3], [4], [5]], targets: [[1, 2, 3], [6], [7]], tokenBudget: 4)
    XCTAssertEqual(batcher.oversizedExamples, [0])
    let batches = batcher.batches(epoch: 0, seed: 0)
    XCTAssertTrue(batches.contains([0]))
    XCTAssertEqual(batches.flatMap { $0 }.sorted(), [0, 1, 2])
    XCTAssertThrowsError(try TokenBudgetBatcher(sourceLengths: [1], targetLengths: [], tokenBudget: 4))
    XCTAssertThrowsError(try TokenBudgetBatcher(sourceLengths: [1], targetLengths: [1], tokenBudget: 0))
  }

  func testPaddingAndSeq2SeqBatch() throws {
    let padded = PaddedBatch(padding: [[5, 6, 7], [8]], padID: 0)
    XCTAssertEqual(padded.shape, [2, 3])
    XCTAssertEqual(padded.ids, [5, 6, 7, 8, 0, 0])
    XCTAssertEqual(padded.mask, [1, 1, 1, 1, 0, 0])
    XCTAssertEqual(padded.row(1), [8])
    XCTAssertEqual(PaddedBatch(padding: [[1, 2, 3]], padID: 9, toMultipleOf: 4).ids, [1, 2, 3, 9])

    let batch = try TeacherForcedBatch(sources: [[10, 11], [12]], targets: [[20, 21, 1], [22, 1]], padID: 0, decoderStartID: 0)
    XCTAssertEqual(batch.encoder.ids, [10, 11, 12, 0])
    XCTAssertEqual(batch.decoder.shape, [2, 3])
    XCTAssertEqual(batch.decoder.ids, [0, 20, 21, 0, 22, 0])
    XCTAssertEqual(batch.decoder.mask, [1, 1, 1, 1, 1, 0])
    XCTAssertEqual(batch.labels, [20, 21, 1, 22, 1, -100])
    XCTAssertEqual(batch.labelCount, 5)
    XCTAssertThrowsError(try TeacherForcedBatch(sources: [[1]], targets: [], padID: 0, decoderStartID: 0))
  }
}

final class MetricBasicsTests: XCTestCase {
  func testExactMatchAndTokenAccuracy() throws {
    XCTAssertEqual(try Metrics.exactMatch(hypotheses: ["a b", " c ", "d"], references: ["a b", "c", "e"]), 2.0 / 3.0, accuracy: 1e-12)
    XCTAssertEqual(try Metrics.exactMatch(hypotheses: [" c "], references: ["c"], trimWhitespace: false), 0)
    XCTAssertEqual(try Metrics.exactMatch(hypotheses: [], references: []), 0)
    // 2 matches of max(3, 4) + 1 of max(2, 1) positions.
    XCTAssertEqual(try Metrics.tokenAccuracy(predictions: [[1, 2, 9], [5, 6]], references: [[1, 2, 3, 4], [5]]), 3.0 / 6.0, accuracy: 1e-12)
    XCTAssertEqual(try Metrics.tokenAccuracy(predicted: [1, 2, 3, 4], labels: [1, 0, 3, -100]), 2.0 / 3.0, accuracy: 1e-12)
    XCTAssertThrowsError(try Metrics.bleu(hypotheses: ["a"], references: [])) { error in
      XCTAssertEqual(error as? MetricError, .countMismatch(hypotheses: 1, references: 0))
    }
  }

  func testLossAndPerplexity() {
    var loss = TokenLoss()
    XCTAssertTrue(loss.meanLoss.isNaN)
    loss.add(summedNLL: 6, tokens: 4)
    loss.add(summedNLL: 2, tokens: 4)
    XCTAssertEqual(loss.meanLoss, 1, accuracy: 1e-12)
    XCTAssertEqual(loss.perplexity, M_E, accuracy: 1e-12)
  }

  func testPerfectAndEmptyScores() throws {
    let refs = ["the cat sat on the mat", "a quick brown fox"]
    XCTAssertEqual(try Metrics.bleu(hypotheses: refs, references: refs).score, 100, accuracy: 1e-9)
    XCTAssertEqual(try Metrics.chrF(hypotheses: refs, references: refs), 100, accuracy: 1e-9)
    XCTAssertEqual(try Metrics.rouge(hypotheses: refs, references: refs).rougeL, 1, accuracy: 1e-12)
    XCTAssertEqual(try Metrics.bleu(hypotheses: ["", ""], references: refs).score, 0)
    XCTAssertEqual(try Metrics.chrF(hypotheses: [], references: []), 0)
  }

  func testComputeAndTable() throws {
    let values = try Metrics.compute(TextMetric.parseList(["bleu", "CHRF", "rouge", "em"]), hypotheses: ["a b c d"], references: ["a b c d"])
    XCTAssertEqual(values.map(\.name), ["BLEU", "chrF", "ROUGE-1", "ROUGE-2", "ROUGE-L", "EM"])
    let table = Metrics.table(values)
    XCTAssertTrue(table.contains("BLEU     100.00"), table)
    XCTAssertTrue(table.contains("EM       1.0000"), table)
    XCTAssertThrowsError(try TextMetric.parseList(["meteor"])) { error in
      XCTAssertTrue("\(error)".contains("meteor"))
    }
  }
}
