import Foundation
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

final class LowRankCompressionTests: TemporaryFolderTestCase {
  private func logits(_ model: any Seq2SeqModel) -> [Float] { withoutGradient { model.forward(TinyModels.copyBatch()) }.scalars }

  func testFullRankFactorsComputeTheSameModel() throws {
    var generator = SeededRandom(seed: 21)
    let layer = Linear(inputSize: 12, outputSize: 7, hasBias: true, using: &generator)
    layer.bias!.value = Tensor.normal([7], std: 1, using: &generator)
    let factors = try LowRankLinear(factorising: layer, rank: 7)
    let x = Tensor.normal([3, 12], std: 1, using: &generator)
    for (a, b) in zip(withoutGradient { factors(x) }.scalars, withoutGradient { layer(x) }.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    XCTAssertEqual(Set(factors.namedParameters().map(\.key)), ["down.weight", "up.weight", "bias"])
    XCTAssertEqual(LowRankLinear.rank(inputSize: 512, outputSize: 2048, ratio: 2), 204)
    XCTAssertEqual(LowRankLinear.rank(inputSize: 4, outputSize: 4, ratio: 100), 1)
  }

  func testTargetsChooseTheLayersAndFoldersLoadBack() throws {
    var generator = SeededRandom(seed: 20)
    let models: [(String, any Seq2SeqModel)] = [
      ("t5", T5Model(TinyModels.t5(), using: &generator)), ("bart", BartModel(TinyModels.bart(), using: &generator)),
    ]
    for (name, model) in models {
      let ranks = try LowRankCompression.factorise(model, ratio: 2, targets: [.attention])
      XCTAssertFalse(ranks.isEmpty)
      let kinds = Set(LinearLayers.all(in: model).filter { $0.layer is LowRankLinear }.map(\.key))
      XCTAssertEqual(kinds, Set(ranks.map(\.key)))
      XCTAssertTrue(LinearLayers.all(in: model).contains { !($0.layer is LowRankLinear) && $0.key.contains(name == "t5" ? "DenseReluDense" : "fc1") }, name)
      XCTAssertFalse(kinds.contains { $0.contains("DenseReluDense") || $0.contains("fc1") }, "\(name): feed-forward layers were not asked for")
      let expected = logits(model)

      let folder = temporary.appendingPathComponent(name)
      try ModelExport.save(model, to: folder)
      let header = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors"))
      XCTAssertTrue(header.names.contains { $0.hasSuffix(".down.weight") }, name)
      let loaded = try ModelLoading.load(from: folder)
      XCTAssertEqual(logits(loaded), expected, name)
      XCTAssertEqual(LowRankCompression.ranks(of: loaded).map(\.rank), ranks.map(\.rank))

      let dense = temporary.appendingPathComponent(name + "-dense")
      try ModelExport.save(model, to: dense, format: WeightFileFormat(dense: true))
      let plain = try ModelLoading.load(from: dense)
      XCTAssertTrue(LowRankCompression.ranks(of: plain).isEmpty)
      for (a, b) in zip(logits(plain), expected) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
    }
  }

  func testBadRanksInTheSectionAreRefused() throws {
    var generator = SeededRandom(seed: 22)
    let model = T5Model(TinyModels.t5(), using: &generator)
    try LowRankCompression.factorise(model, ratio: 2, targets: [.ffn])
    let folder = temporary.appendingPathComponent("bad")
    try ModelExport.save(model, to: folder)
    let config = folder.appendingPathComponent("config.json")
    let text = try String(contentsOf: config, encoding: .utf8)
    let key = "encoder.block.0.layer.1.DenseReluDense.wi"
    XCTAssertTrue(text.contains("\"\(key)\""), text)
    for (edited, message) in [
      (text.replacingOccurrences(of: "\"\(key)\":", with: "\"\(key)x\":"), "'\(key)x' is not a linear layer"),
      (text.replacingOccurrences(of: "\"\(key)\":5", with: "\"\(key)\":99"), "rank of '\(key)' must be an integer from 1 to 16"),
    ] {
      try Data(edited.utf8).write(to: config)
      XCTAssertThrowsError(try ModelLoading.load(from: folder)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
    }
  }
}

/// Fisher-weighted factorisation.
extension LowRankCompressionTests {
  private func rowErrors(_ factors: LowRankLinear, _ dense: Linear) -> [Float] {
    let (a, b) = (factors.fused().weight.value.scalars, dense.weight.value.scalars)
    let columns = dense.inputSize
    return (0..<dense.outputSize).map { row in
      (0..<columns).reduce(0) { $0 + (a[row * columns + $1] - b[row * columns + $1]) * (a[row * columns + $1] - b[row * columns + $1]) }
    }
  }

  func testRowImportanceWeightsTheApproximation() throws {
    var generator = SeededRandom(seed: 23)
    let dense = Linear(inputSize: 10, outputSize: 8, hasBias: false, using: &generator)
    let plain = try LowRankLinear(factorising: dense, rank: 3)
    let uniform = try LowRankLinear(factorising: dense, rank: 3, rowImportance: [Float](repeating: 4, count: 8))
    for (a, b) in zip(uniform.fused().weight.value.scalars, plain.fused().weight.value.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    var importance = [Float](repeating: 1, count: 8)
    importance[5] = 1000
    let weighted = try LowRankLinear(factorising: dense, rank: 3, rowImportance: importance)
    XCTAssertLessThan(rowErrors(weighted, dense)[5], rowErrors(plain, dense)[5] / 10)
    // Rows of importance 0 take the smallest positive one instead of dividing by zero.
    importance[2] = 0
    let withZero = try LowRankLinear(factorising: dense, rank: 3, rowImportance: importance)
    XCTAssertTrue(withZero.fused().weight.value.scalars.allSatisfy(\.isFinite))
  }
}

/// Low-rank factors stack with quantization.
extension LowRankCompressionTests {
  func testFactorsAreQuantizedAndTheStackLoadsBack() throws {
    var generator = SeededRandom(seed: 24)
    let model = T5Model(TinyModels.t5(), using: &generator)
    let parameters = model.parameterCount
    try LowRankCompression.factorise(model, ratio: 2, targets: [.ffn])
    let factored = model.parameterCount
    XCTAssertLessThan(factored, parameters)
    let keys = try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: .int8, keepFP32: ["decoder.block.0"]))
    let wi = "encoder.block.0.layer.1.DenseReluDense.wi"
    XCTAssertTrue(keys.contains(wi + ".down") && keys.contains(wi + ".up"), "\(keys)")
    XCTAssertFalse(keys.contains { $0.hasPrefix("decoder.block.0.") })
    XCTAssertEqual(model.parameterCount, factored, "quantized factors still count as the same parameters")
    let expected = logits(model)
    let folder = temporary.appendingPathComponent("stack")
    try ModelExport.save(model, to: folder)
    let header = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors"))
    XCTAssertEqual(header.entries.first { $0.name == wi + ".down.weight" }?.dtype, .int8)
    XCTAssertNotNil(header.entries.first { $0.name == wi + ".up.weight_scale" })
    let loaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(logits(loaded), expected)
    XCTAssertEqual(ModelQuantization.storedBytes(of: loaded), ModelQuantization.storedBytes(of: model))
  }
}
