import Foundation
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

/// A stand-in for a factorised or quantized layer: it keeps its weights
/// under its own keys and fuses back to the dense layer it wraps.
private final class WrappedLinear: LinearLayer {
  let inner: Linear
  init(_ inner: Linear) { self.inner = inner }
  var inputSize: Int { inner.inputSize }
  var outputSize: Int { inner.outputSize }
  func callAsFunction(_ x: Tensor) -> Tensor { inner(x) }
  func fused() -> Linear { inner }
  func namedParameters() -> [(key: String, parameter: Parameter)] { joinKeys("inner", inner.namedParameters()) }
}

final class LinearReplacementTests: XCTestCase {
  private func logits(_ model: any Seq2SeqModel) -> [Float] {
    withoutGradient { model.forward(TinyModels.copyBatch()) }.scalars
  }

  func testLinearLayersAreFoundAndReplacedByKeyPath() throws {
    var generator = SeededRandom(seed: 3)
    let model = T5Model(TinyModels.t5(gated: true, tied: false), using: &generator)
    let before = logits(model)
    let layers = LinearLayers.all(in: model)
    // Encoder: 4 projections + 3 gated feed-forward layers; decoder: 8 + 3; plus the head.
    XCTAssertEqual(layers.count, 2 * 7 + 4 * 11 + 1)
    let keys = layers.map(\.key)
    for key in ["encoder.block.0.layer.0.SelfAttention.q", "decoder.block.3.layer.1.EncDecAttention.o",
                "decoder.block.0.layer.2.DenseReluDense.wi_0", "lm_head"] {
      XCTAssertTrue(keys.contains(key), key)
    }
    for key in ["encoder.block.0.layer.0.SelfAttention.q", "decoder.block.0.layer.2.DenseReluDense.wi_0", "lm_head"] {
      let dense = try XCTUnwrap(layers.first { $0.key == key }?.layer as? Linear)
      try LinearLayers.replace(at: key, in: model, with: WrappedLinear(dense))
    }
    XCTAssertTrue(LinearLayers.all(in: model).first { $0.key == "lm_head" }?.layer is WrappedLinear)
    XCTAssertTrue(model.stateDictionary().keys.contains("encoder.block.0.layer.0.SelfAttention.q.inner.weight"))
    XCTAssertEqual(logits(model), before)

    // Export fuses the wrappers back to dense weights under the reference's keys, and loads back.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replaced-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try ModelExport.save(model, to: folder)
    let names = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors")).names
    XCTAssertTrue(names.contains("encoder.block.0.layer.0.SelfAttention.q.weight"))
    XCTAssertFalse(names.contains { $0.contains("inner") })
    XCTAssertEqual(logits(try ModelLoading.load(from: folder)), before)
  }

  func testReplacementIsCheckedAndWorksForBART() throws {
    var generator = SeededRandom(seed: 4)
    let model = BartModel(TinyModels.bart(), using: &generator)
    let before = logits(model)
    XCTAssertThrowsError(try LinearLayers.replace(
      at: "model.decoder.layers.0.fc1", in: model, with: Linear(inputSize: 16, outputSize: 8, using: &generator))) {
      XCTAssertEqual($0 as? LayerReplacementError, .sizeMismatch(keyPath: "model.decoder.layers.0.fc1", expected: [16, 32], found: [16, 8]))
    }
    XCTAssertThrowsError(try LinearLayers.replace(
      at: "model.decoder.layers.0.fc3", in: model, with: Linear(inputSize: 16, outputSize: 32, using: &generator))) {
      XCTAssertEqual($0 as? LayerReplacementError, .noLinearLayer(keyPath: "model.decoder.layers.0.fc3"))
    }
    let fc1 = try XCTUnwrap(LinearLayers.all(in: model).first { $0.key == "model.decoder.layers.0.fc1" }?.layer as? Linear)
    try LinearLayers.replace(at: "model.decoder.layers.0.fc1", in: model, with: WrappedLinear(fc1))
    XCTAssertEqual(logits(model), before)
    // A copied block (modules start as copies) is dense again and computes the same.
    let copy = model.decoder.blocks[0].copy()
    XCTAssertEqual(Set(copy.stateDictionary().keys), Set(BartModel(TinyModels.bart(), using: &generator).decoder.blocks[0].stateDictionary().keys))
  }
}
