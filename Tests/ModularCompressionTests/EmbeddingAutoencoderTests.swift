import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

final class EmbeddingAutoencoderTests: XCTestCase {
  func testLossTermsMatchHandComputedValues() {
    let rows = Tensor([1, 0, 0, 2], shape: [2, 2]), reconstructed = Tensor([1, 0.5, 0, 4], shape: [2, 2])
    // cos: 1/√1.25 = 0.894427 and 1 → 1 − mean = 0.052786. Differences (0, 0.5, 0, 2):
    // α = 1: mean |d| = 2.5/4 = 0.625; α = 0.1: (0.5^0.1 + 2^0.1)/4 = (0.933033 + 1.071773)/4 = 0.501202.
    XCTAssertEqual(EmbeddingAutoencoder.cosineWeight, 0.1995, accuracy: 1e-7)
    XCTAssertEqual(EmbeddingAutoencoder.loss(reconstructed, rows, exponent: 1).item(), 0.1995 * 0.052786 + 0.0025 * 0.625, accuracy: 1e-6)
    XCTAssertEqual(EmbeddingAutoencoder.loss(reconstructed, rows, exponent: 0.1).item(), 0.1995 * 0.052786 + 0.0025 * 0.501202, accuracy: 1e-6)
    XCTAssertEqual(EmbeddingAutoencoder.loss(rows, rows, exponent: 0.1).item(), 0, accuracy: 1e-6)
    // A row scaled by 2 keeps its direction: only the distance term counts (|d| = 1, 0, 0, 2).
    XCTAssertEqual(EmbeddingAutoencoder.loss(rows.scaled(by: 2), rows, exponent: 1).item(), 0.0025 * 0.75, accuracy: 1e-6)
  }

  func testTheExponentIsAnnealedFromOneToATenth() {
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 0, steps: 1000), 1)
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 999, steps: 1000), 0.1, accuracy: 1e-6)
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 1000, steps: 1000), 0.1, accuracy: 1e-6, "the final loss is taken at the last α")
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 500, steps: 1001), 0.55, accuracy: 1e-6)
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 0, steps: 1), 1)
    XCTAssertEqual(EmbeddingAutoencoder.exponent(step: 5, steps: 0), 1)
  }

  func testTrainingStartsAtTheSVDAndImprovesOnItsLoss() throws {
    var generator = SeededRandom(seed: 44)
    let table = Tensor.normal([60, 12], std: 1, using: &generator)
    let svd = try EmbeddingCompression.svdFactors(of: table, rank: 4)
    let start = try EmbeddingAutoencoder.train(table: table, rank: 4, settings: AutoencoderSettings(steps: 0))
    for (a, b) in zip(start.factors.table.scalars, svd.table.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    var steps = 0
    let trained = try EmbeddingAutoencoder.train(table: table, rank: 4, settings: AutoencoderSettings(steps: 200, learningRate: 3e-3)) { done, total in
      XCTAssertEqual(total, 200)
      steps = done
    }
    XCTAssertEqual(steps, 200)
    XCTAssertEqual(trained.factors.method, "autoencoder")
    XCTAssertTrue(trained.factors.hasBias)
    XCTAssertEqual(trained.factors.storedCount, 60 * 4 + 12 * 4 + 12)
    let loss = { (factors: EmbeddingFactors) in EmbeddingAutoencoder.loss(factors.table, table, exponent: 0.1).item() }
    XCTAssertEqual(trained.loss, loss(trained.factors), accuracy: 1e-6, "the final loss is the stored factors' at α = 0.1")
    XCTAssertLessThan(loss(trained.factors), loss(svd))
  }
}
