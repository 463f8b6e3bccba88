import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers
import XCTest

@testable import ModularCompression

final class FisherImportanceTests: XCTestCase {
  func testRowImportanceIsTheSummedSquaredGradientOfEachOutputRow() throws {
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (ByteTokenizer().vocabularySize, 16, 4, 32, 2)
    (config.numLayers, config.numDecoderLayers, config.relativeAttentionNumBuckets, config.dropoutRate) = (1, 1, 8, 0)
    var generator = SeededRandom(seed: 31)
    let model = T5Model(config, using: &generator)
    let examples = (0..<3).map { Example(source: "\($0)+\($0)", target: "\($0 * 2)") }
    let data = TokenizedExamples(examples, tokenizer: ByteTokenizer())
    let key = "encoder.block.0.layer.1.DenseReluDense.wi"
    let linear = try XCTUnwrap(LinearLayers.all(in: model).first { $0.key == key }?.layer as? Linear)
    let importance = try FisherImportance.rowImportance(of: model, layers: [(key, linear)], data: data)

    // By hand: the same batches, one backward each, squared gradients summed per row.
    var expected = [Double](repeating: 0, count: linear.outputSize)
    for batch in data.orderedBatches(tokenBudget: 2048, tokens: model.specialTokens) {
      model.zeroGrad()
      model.loss(logits: model.forward(batch), batch: batch).backward()
      let g = linear.weight.grad!.scalars
      for row in 0..<linear.outputSize {
        for column in 0..<linear.inputSize { expected[row] += Double(g[row * linear.inputSize + column] * g[row * linear.inputSize + column]) }
      }
    }
    model.zeroGrad()
    let got = try XCTUnwrap(importance[key])
    XCTAssertEqual(got.count, 32)
    XCTAssertTrue(got.contains { $0 > 0 })
    for (a, b) in zip(got, expected) { XCTAssertEqual(Double(a), b, accuracy: 1e-6 * max(1, b)) }
    XCTAssertTrue(linear.weight.grad.map { $0.scalars.allSatisfy { $0 == 0 } } ?? true, "gradients are cleared")
  }
}
