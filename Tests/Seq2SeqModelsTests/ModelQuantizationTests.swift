import Foundation
import JSONFormat
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

final class ModelQuantizationTests: TemporaryFolderTestCase {
  private func logits(_ model: any Seq2SeqModel) -> Tensor { withoutGradient { model.forward(TinyModels.copyBatch()) } }

  private func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    let d = zip(a.scalars, b.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    return (d / b.scalars.map { $0 * $0 }.reduce(0, +)).squareRoot()
  }

  private func models() -> [(String, any Seq2SeqModel)] {
    var generator = SeededRandom(seed: 11)
    return [
      ("t5 tied", T5Model(TinyModels.t5(), using: &generator)),
      ("t5 v1.1", T5Model(TinyModels.t5(gated: true, tied: false), using: &generator)),
      ("bart", BartModel(TinyModels.bart(), using: &generator)),
    ]
  }

  func testQuantizedFoldersLoadBackExactlyAndStayCloseToFP32() throws {
    for scheme in QuantizationScheme.allCases {
      for (name, model) in models() {
        let fp32 = logits(model), fp32Bytes = ModelQuantization.storedBytes(of: model)
        let keys = try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: scheme))
        XCTAssertEqual(keys.count, LinearLayers.all(in: model).count, "\(name): every linear layer and the head")
        XCTAssertTrue(keys.contains("lm_head"), name)
        let quantized = logits(model)
        XCTAssertLessThan(relativeError(quantized, fp32), scheme == .int8 ? 0.05 : 0.01, "\(name) \(scheme)")
        // Norms, biases and BART's positions stay fp32, a large share of a tiny model.
        XCTAssertLessThan(ModelQuantization.storedBytes(of: model), scheme == .int8 ? fp32Bytes / 2 : fp32Bytes * 3 / 5, "\(name) \(scheme)")

        let folder = temporary.appendingPathComponent("\(name)-\(scheme)")
        try ModelExport.save(model, to: folder)
        let header = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors"))
        let types = Set(header.entries.map(\.dtype))
        XCTAssertTrue(types.contains(scheme == .int8 ? .int8 : .bfloat16), "\(name): \(types)")
        let loaded = try ModelLoading.load(from: folder)
        XCTAssertEqual(ModelQuantization.scheme(of: loaded), scheme)
        XCTAssertEqual(logits(loaded).scalars, quantized.scalars, "\(name) \(scheme): the stored form is what ran")
        XCTAssertEqual(ModelQuantization.storedBytes(of: loaded), ModelQuantization.storedBytes(of: model))

        // --dense: plain fp32 tensors a reference loader reads, computing the dequantized model.
        let dense = temporary.appendingPathComponent("\(name)-\(scheme)-dense")
        try ModelExport.save(model, to: dense, format: WeightFileFormat(dense: true))
        let denseHeader = try SafeTensorsFile.readHeader(from: dense.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(denseHeader.entries.map(\.dtype)), [.float32])
        XCTAssertNil(try JSONValue.parse(Data(contentsOf: dense.appendingPathComponent("config.json")))["quantization"])
        let plain = try ModelLoading.load(from: dense)
        XCTAssertNil(ModelQuantization.scheme(of: plain))
        XCTAssertLessThan(relativeError(logits(plain), quantized), scheme == .int8 ? 0.05 : 1e-5, "\(name) \(scheme)")
      }
    }
  }

  func testKeptLayersStayFP32AndUnknownNamesAreRefused() throws {
    var generator = SeededRandom(seed: 12)
    let model = T5Model(TinyModels.t5(), using: &generator)
    let keys = try ModelQuantization.quantize(
      model, settings: QuantizationSettings(scheme: .int8, keepFP32: ["lm_head", "DenseReluDense.wo", "encoder.block.1"]))
    XCTAssertFalse(keys.contains("lm_head"))
    XCTAssertFalse(keys.contains { $0.hasSuffix("DenseReluDense.wo") || $0.hasPrefix("encoder.block.1.") })
    XCTAssertTrue(keys.contains("encoder.block.0.layer.0.SelfAttention.q"))
    let folder = temporary.appendingPathComponent("kept")
    try ModelExport.save(model, to: folder)
    XCTAssertEqual(logits(try ModelLoading.load(from: folder)).scalars, logits(model).scalars)

    let other = T5Model(TinyModels.t5(), using: &generator)
    XCTAssertThrowsError(try ModelQuantization.quantize(other, settings: QuantizationSettings(scheme: .int8, keepFP32: ["DenseReluDense.w0"]))) {
      XCTAssertEqual("\($0)", "--keep-fp32: 'DenseReluDense.w0' names no linear layer of the model")
    }
  }

  /// Writes an int8 tiny T5, lets `edit` change its tensors or config, and returns the load error.
  private func loadError(
    editTensors: (inout [String: Tensor], inout [String: SafeTensorsDType]) -> Void = { _, _ in },
    editConfig: (String) -> String = { $0 }
  ) throws -> String {
    var generator = SeededRandom(seed: 13)
    let model = T5Model(TinyModels.t5(), using: &generator)
    try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: .int8))
    var (tensors, dtypes) = ModelQuantization.checkpointTensors(of: model)
    editTensors(&tensors, &dtypes)
    let folder = temporary.appendingPathComponent("edited-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try SafeTensorsFile(tensors: tensors).write(to: folder.appendingPathComponent("model.safetensors"), dtypes: dtypes)
    let config = String(decoding: try ModelExport.configurationJSON(of: model, adding: ModelExport.storedFormSections(of: model)), as: UTF8.self)
    try Data(editConfig(config).utf8).write(to: folder.appendingPathComponent("config.json"))
    do {
      _ = try ModelLoading.load(from: folder)
      return "loaded"
    } catch { return "\(error)" }
  }

  func testDamagedQuantizedFoldersAreRefusedNamingTheTensorOrField() throws {
    XCTAssertEqual(try loadError(), "loaded")
    let q = "encoder.block.0.layer.0.SelfAttention.q"
    // An I8 tensor where fp32 belongs (a layer norm) is a wrong file.
    let norm = try loadError(editTensors: { tensors, dtypes in
      tensors["encoder.final_layer_norm.weight"] = Tensor.ones([16])
      dtypes["encoder.final_layer_norm.weight"] = .int8
    })
    XCTAssertTrue(norm.contains("encoder.final_layer_norm.weight") && norm.contains("I8"), norm)
    // A missing scale, a negative scale, a weight stored in F32 with non-integers.
    XCTAssertTrue(try loadError(editTensors: { t, _ in t["\(q).weight_scale"] = nil }).contains("\(q).weight_scale"))
    let negative = try loadError(editTensors: { t, _ in t["\(q).weight_scale"] = Tensor(repeating: -1, shape: [8]) })
    XCTAssertTrue(negative.contains("\(q).weight_scale"), negative)
    let fractional = try loadError(editTensors: { t, d in
      t["\(q).weight"] = Tensor(repeating: 0.5, shape: [8, 16])
      d["\(q).weight"] = nil
    })
    XCTAssertTrue(fractional.contains("\(q).weight") && fractional.contains("0.5"), fractional)
    // The section: an unknown scheme, a layer that is not a linear layer, a listed layer stored dense.
    XCTAssertTrue(try loadError(editConfig: { $0.replacingOccurrences(of: "\"scheme\":\"int8\"", with: "\"scheme\":\"int4\"") }).contains("'scheme'"))
    let notLinear = try loadError(editConfig: { $0.replacingOccurrences(of: "\"lm_head\"", with: "\"encoder.final_layer_norm\"") })
    XCTAssertTrue(notLinear.contains("'encoder.final_layer_norm' is not a linear layer"), notLinear)
    let twice = try loadError(editConfig: { $0.replacingOccurrences(of: "\"lm_head\"", with: "\"\(q)\"") })
    XCTAssertTrue(twice.contains("listed twice"), twice)
  }

  func testDecodingFootprintCountsWhatAStepReads() throws {
    var generator = SeededRandom(seed: 14)
    let model = T5Model(TinyModels.t5(), using: &generator)
    // Per decoder block: self q,k,v,o (4·16·8), cross q,o (2·16·8), wi, wo (2·16·32); the tied head 24·16.
    let perBlock = 4 * 16 * 8 + 2 * 16 * 8 + 2 * 16 * 32
    XCTAssertEqual(DecodingFootprint.weightBytesPerToken(of: model), 4 * (4 * perBlock + 24 * 16))
    try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: .bf16))
    XCTAssertEqual(DecodingFootprint.weightBytesPerToken(of: model), 2 * (4 * perBlock + 24 * 16))
  }
}
