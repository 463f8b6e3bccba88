import Foundation
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

/// The shared embedding stored as latents and a decoder.
final class EmbeddingCompressionTests: TemporaryFolderTestCase {
  private func logits(_ model: any Seq2SeqModel) -> [Float] { withoutGradient { model.forward(TinyModels.copyBatch()) }.scalars }

  private func sharedWeight(_ model: any Seq2SeqModel) -> Tensor { (model as! any SharedEmbeddingHead).shared.weight.value }

  /// Factors of rank `rank` with a decoder bias (what the autoencoder stores), drawn at random.
  private func factorsWithBias(vocabulary: Int, width: Int, rank: Int, seed: UInt64) -> EmbeddingFactors {
    var generator = SeededRandom(seed: seed)
    let decoder = Linear(weight: Parameter(Tensor.normal([width, rank], std: 0.5, using: &generator)), bias: Parameter(Tensor.normal([width], std: 0.1, using: &generator)))
    return EmbeddingFactors(latents: Tensor.normal([vocabulary, rank], std: 1, using: &generator), decoder: RowDecoder(linear: decoder), method: "autoencoder")
  }

  func testRankFollowsTheRatioAndBadRatiosAreRefused() throws {
    // The demo teacher's table: 259 × 64, V·C/(V + C) = 51.3.
    XCTAssertEqual(try EmbeddingCompression.rank(vocabulary: 259, width: 64, ratio: 2), 25)
    XCTAssertEqual(try EmbeddingCompression.rank(vocabulary: 259, width: 64, ratio: 4), 12)
    XCTAssertEqual(try EmbeddingCompression.rank(vocabulary: 259, width: 64, ratio: 10), 5)
    for ratio in [1, 0.5, 60, .nan, .infinity] {
      XCTAssertThrowsError(try EmbeddingCompression.rank(vocabulary: 259, width: 64, ratio: ratio)) { error in
        XCTAssertTrue("\(error)".contains("--ratio must be a number > 1 that leaves the table at least rank 1 (at most 51.3 here)"), "\(error)")
      }
    }
  }

  func testSVDAtFullRankReproducesTheTableAndTruncatesBelowIt() throws {
    var generator = SeededRandom(seed: 30)
    let table = Tensor.normal([24, 16], std: 1, using: &generator)
    let full = try EmbeddingCompression.svdFactors(of: table, rank: 16)
    XCTAssertEqual(full.latents.shape, [24, 16])
    XCTAssertEqual(full.decoder.linear.weight.shape, [16, 16])
    XCTAssertFalse(full.hasBias)
    for (a, b) in zip(full.table.scalars, table.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    let truncated = try EmbeddingCompression.svdFactors(of: table, rank: 4)
    XCTAssertEqual(truncated.storedCount, 24 * 4 + 4 * 16)
    // Rank 4 of a random matrix loses a clear part of it, and no more than the rank-3 one.
    let error = { (factors: EmbeddingFactors) in zip(factors.table.scalars, table.scalars).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
    XCTAssertGreaterThan(error(truncated), 1)
    XCTAssertLessThan(error(truncated), error(try EmbeddingCompression.svdFactors(of: table, rank: 3)))
  }

  func testCompressedModelsSaveLoadBackAndWriteDenseFolders() throws {
    var generator = SeededRandom(seed: 31)
    let models: [(String, any Seq2SeqModel, tied: Bool)] = [
      ("t5", T5Model(TinyModels.t5(), using: &generator), true),
      ("t5-v1.1", T5Model(TinyModels.t5(gated: true, tied: false), using: &generator), false),
      ("bart", BartModel(TinyModels.bart(), using: &generator), true),
    ]
    for (name, model, tied) in models {
      let original = logits(model)
      let (table, headIsTied) = try EmbeddingCompression.table(of: model)
      XCTAssertEqual(headIsTied, tied, name)
      let factors = name == "bart" ? factorsWithBias(vocabulary: 24, width: 16, rank: 5, seed: 3) : try EmbeddingCompression.svdFactors(of: table, rank: 5)
      try EmbeddingCompression.apply(factors, to: model)
      XCTAssertEqual(sharedWeight(model).scalars, factors.table.scalars, "\(name): the model runs on the decoded table")
      let expected = logits(model)
      XCTAssertNotEqual(expected, original, name)

      let folder = temporary.appendingPathComponent(name)
      try ModelExport.save(model, to: folder)
      let key = name == "bart" ? "model.shared" : "shared"
      let names = Set(try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors")).names)
      XCTAssertTrue(names.isSuperset(of: [key + ".latents", key + ".decoder.weight"]), "\(name): \(names.sorted())")
      XCTAssertEqual(names.contains(key + ".decoder.bias"), name == "bart", name)
      XCTAssertFalse(names.contains { $0.hasSuffix("embed_tokens.weight") || $0 == key + ".weight" }, "\(name): the table and its copies are not stored")
      XCTAssertEqual(names.contains("lm_head.weight"), !tied, "\(name): an untied head stays its own dense layer")
      let loaded = try ModelLoading.load(from: folder)
      XCTAssertEqual(logits(loaded), expected, name)
      XCTAssertEqual(EmbeddingCompression.factors(of: loaded)?.rank, 5, name)
      XCTAssertEqual(EmbeddingCompression.factors(of: loaded)?.method, factors.method, name)

      let dense = temporary.appendingPathComponent(name + "-dense")
      try ModelExport.save(loaded, to: dense, format: WeightFileFormat(dense: true))
      let denseNames = try SafeTensorsFile.readHeader(from: dense.appendingPathComponent("model.safetensors")).names
      XCTAssertTrue(denseNames.contains(key + ".weight") && !denseNames.contains(key + ".latents"), name)
      let plain = try ModelLoading.load(from: dense)
      XCTAssertNil(EmbeddingCompression.factors(of: plain), name)
      XCTAssertEqual(logits(plain), expected, name)
    }
  }

  func testATableChangedAfterCompressionIsStoredAsItIsAndTwiceIsRefused() throws {
    var generator = SeededRandom(seed: 32)
    let model = T5Model(TinyModels.t5(), using: &generator)
    try EmbeddingCompression.apply(try EmbeddingCompression.svdFactors(of: try EmbeddingCompression.table(of: model).table, rank: 3), to: model)
    XCTAssertThrowsError(try EmbeddingCompression.table(of: model)) {
      XCTAssertEqual("\($0)", "the shared embedding is already compressed (svd, rank 3); compress the model it came from")
    }
    XCTAssertThrowsError(try EmbeddingCompression.apply(factorsWithBias(vocabulary: 23, width: 16, rank: 2, seed: 1), to: model)) {
      XCTAssertTrue("\($0)".contains("the factors decode to a [23, 16] table; the shared embedding is [24, 16]"), "\($0)")
    }
    // Training (here, one edit) moves the table off the factors' decoding: the folder then keeps the table.
    model.shared.weight.value = model.shared.weight.value.scaled(by: 2)
    XCTAssertNil(EmbeddingCompression.factors(of: model))
    let folder = temporary.appendingPathComponent("changed")
    try ModelExport.save(model, to: folder)
    XCTAssertFalse(try String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8).contains(EmbeddingCompression.sectionKey))
    XCTAssertEqual(logits(try ModelLoading.load(from: folder)), logits(model))
  }

  func testDamagedSectionsAndTensorsAreRefusedNamingTheField() throws {
    var generator = SeededRandom(seed: 33)
    let model = T5Model(TinyModels.t5(), using: &generator)
    try EmbeddingCompression.apply(try EmbeddingCompression.svdFactors(of: try EmbeddingCompression.table(of: model).table, rank: 4), to: model)
    let folder = temporary.appendingPathComponent("damaged")
    try ModelExport.save(model, to: folder)
    let config = folder.appendingPathComponent("config.json")
    let text = try String(contentsOf: config, encoding: .utf8)
    let section = #""compressed_embedding" : {"method":"svd","rank":4,"decoder_bias":false}"#
    XCTAssertTrue(text.contains(section), text)
    for (original, edited, message) in [
      (#""method":"svd""#, #""method":"pca""#, "field 'compressed_embedding': 'method' must be one of autoencoder, svd, found \"pca\""),
      (#""rank":4"#, #""rank":99"#, "field 'compressed_embedding': 'rank' must be an integer from 1 to 16, found 99"),
      (#""rank":4"#, #""rank":"4""#, "'rank' must be an integer from 1 to 16, found \"4\""),
      (#""decoder_bias":false"#, #""decoder_bias":1"#, "field 'compressed_embedding': 'decoder_bias' must be true or false"),
      (#""rank":4"#, #""rank":3"#, "shared.latents"),
      (#""decoder_bias":false"#, #""decoder_bias":true"#, "shared.decoder.bias"),
    ] {
      try Data(text.replacingOccurrences(of: original, with: edited).utf8).write(to: config)
      XCTAssertThrowsError(try ModelLoading.load(from: folder), edited) { XCTAssertTrue("\($0)".contains(message), "\(edited): \($0)") }
    }
    // The table stored beside its factors is a second source of it: refused by name.
    try Data(text.utf8).write(to: config)
    let weightsURL = folder.appendingPathComponent("model.safetensors")
    var tensors = try SafeTensorsFile.readWeights(from: weightsURL).tensors
    tensors["shared.weight"] = model.shared.weight.value
    try SafeTensorsFile(tensors: tensors, metadata: [:]).write(to: weightsURL)
    XCTAssertThrowsError(try ModelLoading.load(from: folder)) { XCTAssertTrue("\($0)".contains("shared.weight"), "\($0)") }
  }
}

/// A compressed embedding stacks with the other transforms.
extension EmbeddingCompressionTests {
  func testQuantizationLeavesTheCompressedTableToTheTiedHeadAndTheStackLoadsBack() throws {
    var generator = SeededRandom(seed: 34)
    let model = T5Model(TinyModels.t5(), using: &generator)
    try EmbeddingCompression.apply(factorsWithBias(vocabulary: 24, width: 16, rank: 4, seed: 2), to: model)
    let compressedBytes = ModelQuantization.storedBytes(of: model)
    let keys = try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: .int8))
    XCTAssertFalse(keys.contains("lm_head"), "the tied head reads the compressed table in fp32: \(keys)")
    XCTAssertTrue(keys.contains("encoder.block.0.layer.0.SelfAttention.q"))
    XCTAssertNotNil(EmbeddingCompression.factors(of: model), "quantization keeps the stored factors")
    XCTAssertLessThan(ModelQuantization.storedBytes(of: model), compressedBytes)
    let expected = logits(model)
    let folder = temporary.appendingPathComponent("int8")
    try ModelExport.save(model, to: folder)
    let header = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("model.safetensors"))
    XCTAssertEqual(header.entries.first { $0.name == "shared.latents" }?.dtype, .float32)
    XCTAssertEqual(header.entries.first { $0.name == "encoder.block.0.layer.0.SelfAttention.q.weight" }?.dtype, .int8)
    let loaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(logits(loaded), expected)
    XCTAssertEqual(ModelQuantization.storedBytes(of: loaded), ModelQuantization.storedBytes(of: model))
    // The stored size counts the factors (24·4 + 16·4 + 16 floats), not the 24 × 16 table.
    let plain = T5Model(TinyModels.t5(), using: &generator)
    XCTAssertEqual(ModelQuantization.storedBytes(of: plain) - compressedBytes, 4 * (24 * 16 - (24 * 4 + 16 * 4 + 16)))
    // So does the parameter count the comparison's total× comes from; a plain table counts itself.
    XCTAssertEqual(EmbeddingCompression.storedParameterCount(of: plain), plain.parameterCount)
    XCTAssertEqual(plain.parameterCount - EmbeddingCompression.storedParameterCount(of: model), 24 * 16 - (24 * 4 + 16 * 4 + 16))
  }

  func testLowRankBlocksThenACompressedEmbeddingLoadBack() throws {
    var generator = SeededRandom(seed: 35)
    let model = BartModel(TinyModels.bart(), using: &generator)
    try LowRankCompression.factorise(model, ratio: 2, targets: [.ffn])
    try EmbeddingCompression.apply(try EmbeddingCompression.svdFactors(of: try EmbeddingCompression.table(of: model).table, rank: 6), to: model)
    let expected = logits(model)
    let folder = temporary.appendingPathComponent("stack")
    try ModelExport.save(model, to: folder)
    let loaded = try ModelLoading.load(from: folder)
    XCTAssertEqual(logits(loaded), expected)
    XCTAssertEqual(LowRankCompression.ranks(of: loaded).count, LowRankCompression.ranks(of: model).count)
    XCTAssertEqual(EmbeddingCompression.factors(of: loaded)?.rank, 6)
  }
}
