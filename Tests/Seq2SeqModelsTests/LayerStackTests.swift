import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

final class LayerStackTests: XCTestCase {
  func testRelativePositionBuckets() {
    func bucket(_ relative: Int, _ bidirectional: Bool) -> Int {
      RelativePositionBias.bucket(relative: relative, isBidirectional: bidirectional, bucketCount: 32, maxDistance: 128)
    }
    // Bidirectional: 16 buckets a side, 8 exact, then logarithmic up to 128.
    XCTAssertEqual([0, -1, -7, -8, -9, -200].map { bucket($0, true) }, [0, 1, 7, 8, 8, 15])
    XCTAssertEqual([1, 7, 8, 200].map { bucket($0, true) }, [17, 23, 24, 31])
    XCTAssertEqual(bucket(-20, true), 8 + Int(Foundation.log(Float(20) / 8) / Foundation.log(Float(16)) * 8))
    // Causal: future keys fall in bucket 0, the past uses all 32 buckets.
    XCTAssertEqual([5, 0, -1, -15, -16, -1000].map { bucket($0, false) }, [0, 0, 1, 15, 16, 31])
  }

  func testTapsRecordEveryBoundary() {
    var generator = SeededRandom(seed: 1)
    let model = T5Model(TinyModels.t5(), using: &generator)
    let batch = TinyModels.copyBatch()
    let encoderTaps = StackTaps(attentionBlocks: [1])
    let decoderTaps = StackTaps(attentionBlocks: [0, 3])
    let logits = model.forward(batch, encoderTaps: encoderTaps, decoderTaps: decoderTaps)
    XCTAssertEqual(logits.shape, [2, 5, 24])
    XCTAssertEqual(encoderTaps.hiddenStates.count, 3)
    XCTAssertEqual(decoderTaps.hiddenStates.count, 5)
    XCTAssertEqual(encoderTaps.selfAttention[1]?.shape, [2, 2, 5, 5])
    XCTAssertEqual(decoderTaps.crossAttention[3]?.shape, [2, 2, 5, 5])
    XCTAssertNil(decoderTaps.selfAttention[1])
    // Running the blocks in two ranges gives the same output as one pass.
    let decoder = model.decoder
    let memory = encoderTaps.output!
    let context = decoder.context(batch: 2, queries: 5, pastLength: 0, keyKeep: nil, memory: memory, memoryKeep: batch.sourceKeep, dropout: nil)
    let embedded = decoder.embed(batch.decoderInputIDs, batch: 2, length: 5, pastLength: 0, dropout: nil)
    let split = decoder.run(2..<4, decoder.run(0..<2, embedded, context: context), context: context)
    assertClose(split, decoderTaps.hiddenStates[4])
  }

  func testIncrementalDecodingEqualsFullRecomputation() {
    var generator = SeededRandom(seed: 2)
    let models: [any Seq2SeqModel] = [
      T5Model(TinyModels.t5(gated: true, tied: false), using: &generator), BartModel(TinyModels.bart(), using: &generator),
    ]
    for model in models {
      let batch = TinyModels.copyBatch()
      let full = model.forward(batch)
      let memory = model.encode(batch)
      let caches = model.decoder.blocks.map { _ in BlockCache() }
      for step in 0..<batch.targetLength {
        let ids = (0..<2).map { batch.decoderInputIDs[$0 * batch.targetLength + step] }
        let output = model.decoder.forward(
          ids, batch: 2, length: 1, keep: nil, memory: memory, memoryKeep: batch.sourceKeep, caches: caches, pastLength: step)
        let stepLogits = model.logits(output)
        for row in 0..<2 {
          let expected = full.slice(axis: 0, row..<(row + 1)).slice(axis: 1, step..<(step + 1))
          assertClose(stepLogits.slice(axis: 0, row..<(row + 1)), expected, tolerance: 1e-4)
        }
      }
    }
  }

  /// Decoder blocks 2–3 replaced by one block: the model trains and still runs.
  func testReplacingTwoDecoderBlocksByOneTrains() {
    var generator = SeededRandom(seed: 3)
    let model = T5Model(TinyModels.t5(), using: &generator)
    let replacement = model.decoder.blocks[2].copy()
    model.decoder.blocks.replaceSubrange(2..<4, with: [replacement])
    XCTAssertEqual(model.decoder.depth, 3)
    XCTAssertTrue(model.namedParameters().contains { $0.key == "decoder.block.2.layer.2.DenseReluDense.wo.weight" })
    XCTAssertFalse(model.namedParameters().contains { $0.key.hasPrefix("decoder.block.3.") })
    let batch = TinyModels.copyBatch()
    let optimizer = AdamW(model, configuration: AdamWConfiguration(learningRate: 0.01, weightDecay: 0))
    var losses: [Float] = []
    for _ in 0..<60 {
      optimizer.zeroGrad()
      let loss = model.loss(logits: model.forward(batch), batch: batch)
      loss.backward()
      optimizer.update()
      losses.append(loss.item())
    }
    XCTAssertLessThan(losses.last!, losses.first! * 0.3, "loss \(losses.first!) → \(losses.last!)")
  }

  func testBlockCopyIsIndependent() {
    var generator = SeededRandom(seed: 4)
    let model = BartModel(TinyModels.bart(), using: &generator)
    let original = model.encoder.blocks[0]
    let copy = original.copy()
    XCTAssertEqual(copy.stateDictionary().mapValues(\.scalars), original.stateDictionary().mapValues(\.scalars))
    copy.parameters()[0].value.withMutableValues { $0[0] += 1 }
    XCTAssertNotEqual(copy.parameters()[0].value.scalars[0], original.parameters()[0].value.scalars[0])
  }
}

func assertClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertEqual(actual.shape, expected.shape, "shape", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  let scale = max(1, expected.scalars.map(abs).max() ?? 1)
  let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
  XCTAssertLessThanOrEqual(worst, tolerance * scale, "max abs difference \(worst)", file: file, line: line)
}
