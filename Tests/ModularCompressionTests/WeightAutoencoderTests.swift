import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

final class WeightAutoencoderTests: XCTestCase {
  private let batch = Seq2SeqBatch(
    batchSize: 1, sourceLength: 3, sourceIDs: [5, 6, 1], sourceKeep: [1, 1, 1], targetLength: 2, decoderInputIDs: [0, 7], labels: [7, 1])

  private func tinyT5(encoderLayers: Int, decoderLayers: Int, using generator: inout SeededRandom) -> T5Model {
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (24, 16, 4, 32, 2)
    (config.numLayers, config.numDecoderLayers, config.relativeAttentionNumBuckets, config.dropoutRate) = (encoderLayers, decoderLayers, 8, 0)
    return T5Model(config, using: &generator)
  }

  func testLossTermsMatchHandComputedValues() {
    let rows = Tensor([1, 0, 0, 2], shape: [2, 2]), reconstructed = Tensor([1, 1, 0, 1], shape: [2, 2])
    // cos: 1/√2 and 1 → 1 − mean = 0.146447; RMSE of (0, 1, 0, −1) = √0.5.
    let expected = 0.9091 * (1 - (1 / Float(2).squareRoot() + 1) / 2) + 0.0909 * Float(0.5).squareRoot()
    XCTAssertEqual(WeightAutoencoder.loss(reconstructed, rows).item(), expected, accuracy: 1e-5)
    XCTAssertEqual(WeightAutoencoder.loss(rows, rows).item(), 0, accuracy: 1e-5)
    XCTAssertEqual(WeightAutoencoder.enforcingNorms(Tensor([3, 4, 0, 2], shape: [2, 2]), to: Tensor([10, 1], shape: [2])).scalars, [6, 8, 0, 1])
    XCTAssertEqual(WeightAutoencoder.latentWidth(rows: 64, width: 64, ratio: 2), 15)
    XCTAssertEqual(WeightAutoencoder.latentWidth(rows: 4, width: 4, ratio: 100), 1)
  }

  func testTrainingImprovesOnItsSVDStartAndDecodesWithTheStoredNorms() throws {
    var generator = SeededRandom(seed: 41)
    let rows = Tensor.normal([40, 12], std: 1, using: &generator)
    let start = try WeightAutoencoder.train(rows: rows, latent: 4, settings: AutoencoderSettings(steps: 0))
    let trained = try WeightAutoencoder.train(rows: rows, latent: 4, settings: AutoencoderSettings(steps: 300, learningRate: 3e-3))
    XCTAssertLessThan(trained.loss, start.loss)
    let norms = (rows * rows).sum(axis: 1).sqrt()
    let decoded = AutoencodedLinear.decode(trained.latents, decoder: trained.decoder, rowNorms: norms)
    let decodedNorms = (decoded * decoded).sum(axis: 1).sqrt().scalars
    for (a, b) in zip(decodedNorms, norms.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4 * b) }
  }

  func testSharedAutoencodersStoreOneDecoderPerMatrixTypeAndLoadBack() throws {
    var generator = SeededRandom(seed: 42)
    let model = tinyT5(encoderLayers: 3, decoderLayers: 2, using: &generator)
    let groups = try WeightAutoencoder.compress(model, ratio: 2, targets: [.ffn], shared: true, settings: AutoencoderSettings(steps: 20))
    // Feed-forward types: encoder wi, wo; decoder wi, wo — each across its stack's blocks.
    XCTAssertEqual(groups.count, 4)
    XCTAssertEqual(groups.map(\.keys.count).sorted(), [2, 2, 3, 3])
    let logits = withoutGradient { model.forward(batch) }.scalars

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ae-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try ModelExport.save(model, to: folder)
    let names = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors")).names
    XCTAssertEqual(names.filter { $0.hasSuffix(".decoder.weight") }.count, 4, "one decoder per group")
    XCTAssertEqual(names.filter { $0.hasSuffix(".latents") }.count, 10)
    let loaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(withoutGradient { loaded.forward(batch) }.scalars, logits)
    XCTAssertEqual(AutoencodedCompression.groups(of: loaded).map(\.keys), groups.map(\.keys))

    let separate = tinyT5(encoderLayers: 3, decoderLayers: 2, using: &generator)
    let alone = try WeightAutoencoder.compress(separate, ratio: 2, targets: [.attention], shared: false, settings: AutoencoderSettings(steps: 5))
    XCTAssertEqual(alone.count, 3 * 4 + 2 * 8)
    XCTAssertTrue(alone.allSatisfy { $0.keys.count == 1 })
  }

  func testTheNonLinearAutoencoderDecodesThroughTanhImprovesOnItsStartAndLoadsBack() throws {
    var generator = SeededRandom(seed: 43)
    let rows = Tensor.normal([40, 12], std: 0.3, using: &generator)
    let settings = AutoencoderSettings(steps: 300, learningRate: 3e-3, decoder: .tanh)
    let start = try WeightAutoencoder.train(rows: rows, latent: 4, settings: AutoencoderSettings(steps: 0, decoder: .tanh))
    let trained = try WeightAutoencoder.train(rows: rows, latent: 4, settings: settings)
    XCTAssertEqual(trained.decoder.activation, .tanh)
    XCTAssertLessThan(trained.loss, start.loss)
    // The decoded rows are tanh of the linear map, rescaled to the stored norms.
    let norms = (rows * rows).sum(axis: 1).sqrt()
    let expected = WeightAutoencoder.enforcingNorms(trained.decoder.linear(trained.latents).tanh(), to: norms)
    let decoded = AutoencodedLinear.decode(trained.latents, decoder: trained.decoder, rowNorms: norms)
    for (a, b) in zip(decoded.scalars, expected.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }

    let model = tinyT5(encoderLayers: 2, decoderLayers: 1, using: &generator)
    try WeightAutoencoder.compress(model, ratio: 2, targets: [.ffn], shared: false, settings: AutoencoderSettings(steps: 10, decoder: .tanh))
    let logits = withoutGradient { model.forward(batch) }.scalars
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ae-tanh-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try ModelExport.save(model, to: folder)
    let loaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(withoutGradient { loaded.forward(batch) }.scalars, logits)
    XCTAssertEqual(Set(AutoencodedCompression.groups(of: loaded).map(\.activation)), [.tanh])

    // A decoder the format does not know is refused, naming the field.
    let configURL = folder.appendingPathComponent("config.json")
    let text = try String(contentsOf: configURL, encoding: .utf8)
    XCTAssertTrue(text.contains("\"tanh\""))
    try text.replacingOccurrences(of: "\"tanh\"", with: "\"relu\"").write(to: configURL, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try ModelLoading.load(from: folder)) { error in
      XCTAssertTrue("\(error)".contains("field 'autoencoded': each group's 'decoder' must be one of linear, tanh"), "\(error)")
    }
  }

  func testMatrixTypesIgnoreTheBlockNumber() {
    XCTAssertEqual(WeightAutoencoder.matrixType(of: "encoder.block.3.layer.0.SelfAttention.q"), "encoder.layer.0.SelfAttention.q")
    XCTAssertEqual(WeightAutoencoder.matrixType(of: "model.decoder.layers.11.fc1"), "model.decoder.fc1")
  }
}
