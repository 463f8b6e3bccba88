import Foundation
import JSONFormat
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

final class TransformStageTests: XCTestCase {
  private func chains(_ text: String) throws -> [[TransformStage]] {
    try StrictJSON.decode([[TransformStage]].self, from: JSONValue.parse(Data(text.utf8)))
  }

  func testStagesDecodeWithDefaultsAndSummaries() throws {
    let parsed = try chains("""
      [[{"compress": {"method": "ae-shared", "ratio": 1.5, "targets": ["ffn"], "steps": 20}},
        {"quantize": {"scheme": "bf16", "keep_fp32": ["lm_head"]}}],
       [{"compress": {"method": "fwsvd", "ratio": 2}}]]
      """)
    XCTAssertEqual(parsed, [
      [
        .compress(CompressionSettings(method: .aeShared, ratio: 1.5, targets: [.ffn], steps: 20)),
        .quantize(QuantizationSettings(scheme: .bf16, keepFP32: ["lm_head"])),
      ],
      [.compress(CompressionSettings(method: .fwsvd, ratio: 2, targets: [.attention, .ffn], steps: 1000, calibration: 256))],
    ])
    XCTAssertEqual(parsed[0].map(\.summary), ["ae-shared 1.5× ffn", "bf16 (fp32: lm_head)"])
    let tanh = try chains(#"[[{"compress": {"method": "ae", "ratio": 2, "decoder": "tanh"}}]]"#)
    XCTAssertEqual(tanh, [[.compress(CompressionSettings(method: .ae, ratio: 2, decoder: .tanh))]])
    XCTAssertEqual(tanh[0][0].summary, "ae tanh 2×")
    XCTAssertEqual(TransformRows.method(of: parsed[0]), "ae-shared 1.5× ffn → bf16 (fp32: lm_head)")
    // Encoding gives back what decodes to the same chain.
    let encoded = try JSONValue.parse(JSONEncoder().encode(parsed))
    XCTAssertEqual(try StrictJSON.decode([[TransformStage]].self, from: encoded), parsed)
  }

  func testBadStagesAreRefusedNamingTheField() throws {
    for (text, field) in [
      (#"[[{"compress": {"method": "svd", "ratio": 1}}]]"#, "[0][0].compress.ratio"),
      (#"[[{"compress": {"method": "svd", "ratio": 2, "targets": []}}]]"#, "[0][0].compress.targets"),
      (#"[[{"compress": {"method": "svd", "ratio": 2, "rank": 3}}]]"#, "[0][0].compress.rank"),
      (#"[[{"compress": {"method": "pca", "ratio": 2}}]]"#, "[0][0].compress.method"),
      (#"[[{"quantize": {"scheme": "int4"}}]]"#, "[0][0].quantize.scheme"),
      (#"[[{"compress": {"method": "svd", "ratio": 2, "decoder": "tanh"}}]]"#, "[0][0].compress.decoder"),
      (#"[[{"compress": {"method": "ae", "ratio": 2, "decoder": "relu"}}]]"#, "[0][0].compress.decoder"),
      (#"[[{"quantize": {"scheme": "int8"}, "compress": {"method": "svd", "ratio": 2}}]]"#, "[0][0]"),
    ] {
      XCTAssertThrowsError(try chains(text), text) { error in
        XCTAssertEqual((error as? JSONFieldError)?.path, field, "\(text): \(error)")
      }
    }
    XCTAssertThrowsError(try TransformStage.validate([])) { XCTAssertEqual($0 as? TransformError, .emptyChain) }
    XCTAssertThrowsError(try TransformStage.validate([
      .quantize(QuantizationSettings(scheme: .int8)), .compress(CompressionSettings(method: .svd, ratio: 2)),
    ])) { XCTAssertEqual($0 as? TransformError, .stageAfterQuantization(index: 1)) }
  }

  func testAChainAppliesItsStagesInOrder() throws {
    let model = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 2, seed: 5)
    let chain: [TransformStage] = [
      .compress(CompressionSettings(method: .svd, ratio: 2, targets: [.ffn])), .quantize(QuantizationSettings(scheme: .int8)),
    ]
    for stage in chain { _ = try stage.applied(to: model, calibration: nil) }
    XCTAssertEqual(ModelQuantization.scheme(of: model), .int8)
    XCTAssertFalse(LowRankCompression.ranks(of: model).isEmpty)
    XCTAssertTrue(LowRankCompression.ranks(of: model).allSatisfy { $0.key.contains("DenseReluDense") })
    // Nothing follows quantization, and a second factorisation of the same layers finds none left.
    XCTAssertThrowsError(try chain[0].applied(to: model, calibration: nil)) {
      XCTAssertEqual($0 as? TransformError, .afterQuantization(scheme: "int8"))
    }
    let other = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 2, seed: 6)
    _ = try chain[0].applied(to: other, calibration: nil)
    XCTAssertThrowsError(_ = try chain[0].applied(to: other, calibration: nil)) {
      XCTAssertEqual($0 as? TransformError, .noTargetLayers(targets: "ffn"))
    }
    XCTAssertThrowsError(try TransformStage.compress(CompressionSettings(method: .fwsvd, ratio: 2)).applied(to: other, calibration: nil)) {
      XCTAssertEqual($0 as? FisherError, .noExamples)
    }
  }
}
