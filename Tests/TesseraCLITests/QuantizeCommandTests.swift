import Foundation
import JSONFormat
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// `tessera quantize` on a tiny model folder.
final class QuantizeCommandTests: TinyModelCLITestCase {
  func testQuantizeWritesAFolderThatLoadsAndADenseOneForReferenceTools() throws {
    let int8 = folder.appendingPathComponent("int8")
    let result = try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--out", int8.path])
    XCTAssertEqual(result.status, 0, result.error)
    // One encoder layer (4 projections, 2 feed-forward), one decoder layer (8 + 2), the tied head.
    XCTAssertTrue(result.output.contains("quantized 17 linear layers to int8"), result.output)
    XCTAssertTrue(result.output.contains("× smaller"), result.output)
    let loaded = try ModelLoading.load(from: int8)
    XCTAssertEqual(ModelQuantization.scheme(of: loaded), .int8)
    XCTAssertTrue(FileManager.default.fileExists(atPath: int8.appendingPathComponent("tokenizer.json").path), "the tokenizer comes along")
    let generated = try CLI.run(["generate", "--model", int8.path, "12+3"])
    XCTAssertEqual(generated.status, 0, generated.error)

    let dense = folder.appendingPathComponent("dense")
    XCTAssertEqual(try CLI.run(["quantize", "--model", model.path, "--scheme", "bf16", "--dense", "--out", dense.path]).status, 0)
    let header = try SafeTensorsFile.readHeader(from: dense.appendingPathComponent("model.safetensors"))
    XCTAssertEqual(Set(header.entries.map(\.dtype)), [.float32])
    XCTAssertNil(ModelQuantization.scheme(of: try ModelLoading.load(from: dense)))
  }

  func testQuantizeRefusesBadArgumentsAndForeignOutputs() throws {
    let out = folder.appendingPathComponent("q")
    let scheme = try CLI.run(["quantize", "--model", model.path, "--scheme", "int4", "--out", out.path])
    XCTAssertNotEqual(scheme.status, 0)
    XCTAssertTrue(scheme.error.contains("--scheme must be int8 or bf16, got 'int4'"), scheme.error)
    let keep = try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--keep-fp32", "lm_hed", "--out", out.path])
    XCTAssertTrue(keep.error.contains("'lm_hed' names no linear layer"), keep.error)
    XCTAssertEqual(try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--out", out.path]).status, 0)
    let twice = try CLI.run(["quantize", "--model", out.path, "--scheme", "int8", "--out", folder.appendingPathComponent("q2").path])
    XCTAssertTrue(twice.error.contains("is already quantized (int8)"), twice.error)
    let foreign = folder.appendingPathComponent("mine")
    try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: foreign.appendingPathComponent("notes.txt"))
    let refused = try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--out", foreign.path])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertEqual(try String(contentsOf: foreign.appendingPathComponent("notes.txt"), encoding: .utf8), "keep")
  }
}

/// `tessera compress` on a tiny model folder.
final class CompressCommandTests: TinyModelCLITestCase {
  func testCompressWritesFactorsThatLoadAndRefusesBadArguments() throws {
    let out = folder.appendingPathComponent("svd")
    let result = try CLI.run(["compress", "--model", model.path, "--method", "svd", "--ratio", "2", "--out", out.path])
    XCTAssertEqual(result.status, 0, result.error)
    // One encoder layer (4 projections, 2 feed-forward), one decoder layer (8 + 2); the head stays.
    XCTAssertTrue(result.output.contains("factorised 16 layers by truncated SVD"), result.output)
    let loaded = try ModelLoading.load(from: out)
    XCTAssertEqual(LowRankCompression.ranks(of: loaded).count, 16)
    XCTAssertEqual(try CLI.run(["generate", "--model", out.path, "12+3"]).status, 0)
    let attention = folder.appendingPathComponent("svd-attention")
    XCTAssertEqual(try CLI.run(["compress", "--model", model.path, "--method", "svd", "--ratio", "2", "--targets", "attention", "--out", attention.path]).status, 0)
    XCTAssertEqual(LowRankCompression.ranks(of: try ModelLoading.load(from: attention)).count, 12)

    for (arguments, message) in [
      (["--method", "pca", "--ratio", "2"], "--method must be svd, fwsvd, ae, ae-shared, embedding-ae, embedding-svd, got 'pca'"),
      (["--method", "svd", "--ratio", "1"], "--ratio must be a number > 1"),
      (["--method", "svd", "--ratio", "2", "--targets", "embeddings"], "--targets takes attention, ffn, got 'embeddings'"),
      (["--method", "svd", "--ratio", "2", "--decoder", "tanh"], "--decoder tanh is for --method ae and ae-shared"),
      (["--method", "ae", "--ratio", "2", "--decoder", "relu"], "--decoder must be linear or tanh, got 'relu'"),
    ] {
      let refused = try CLI.run(["compress", "--model", model.path, "--out", folder.appendingPathComponent("x").path] + arguments)
      XCTAssertNotEqual(refused.status, 0)
      XCTAssertTrue(refused.error.contains(message), refused.error)
    }
    let again = try CLI.run(["compress", "--model", out.path, "--method", "svd", "--ratio", "2", "--out", folder.appendingPathComponent("y").path])
    XCTAssertTrue(again.error.contains("no dense"), again.error)
  }
}

extension CompressCommandTests {
  func testFisherWeightedSVDCalibratesOnTheTask() throws {
    let out = folder.appendingPathComponent("fwsvd")
    let result = try CLI.run([
      "compress", "--model", model.path, "--method", "fwsvd", "--ratio", "2", "--task", "arithmetic", "--calibration", "16", "--out", out.path,
    ])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(result.output.contains("by Fisher-weighted SVD"), result.output)
    XCTAssertEqual(LowRankCompression.ranks(of: try ModelLoading.load(from: out)).count, 16)
    let noData = try CLI.run(["compress", "--model", model.path, "--method", "fwsvd", "--ratio", "2", "--out", out.path])
    XCTAssertTrue(noData.error.contains("give --task NAME or --data FILE"), noData.error)
    let dataForSVD = try CLI.run(["compress", "--model", model.path, "--method", "svd", "--ratio", "2", "--task", "arithmetic", "--out", out.path])
    XCTAssertTrue(dataForSVD.error.contains("--method svd uses no data"), dataForSVD.error)
  }
}

extension CompressCommandTests {
  /// compress, then quantize: the output's config.json lists both stages, each with the fingerprint of the folder it read.
  func testTransformsRecordTheirChain() throws {
    let compressed = folder.appendingPathComponent("svd"), quantized = folder.appendingPathComponent("svd-int8")
    XCTAssertEqual(try CLI.run(["compress", "--model", model.path, "--method", "svd", "--ratio", "2", "--out", compressed.path]).status, 0)
    XCTAssertEqual(try CLI.run(["quantize", "--model", compressed.path, "--scheme", "int8", "--out", quantized.path]).status, 0)
    let stages = try TransformChain.stages(in: quantized)
    XCTAssertEqual(stages.map { $0["stage"] }, [.string("compress"), .string("quantize")])
    XCTAssertEqual(stages[0]["method"], .string("svd"))
    XCTAssertEqual(stages[0]["input"]?["fingerprint"], .string(try TeacherFingerprint.of(modelFolder: model)))
    XCTAssertEqual(stages[1]["input"]?["fingerprint"], .string(try TeacherFingerprint.of(modelFolder: compressed)))
    XCTAssertEqual(stages[1]["scheme"], .string("int8"))
    XCTAssertNotNil(try ModelLoading.load(from: quantized))
  }
}

extension CompressCommandTests {
  func testAutoencodersCompressAndTheFolderLoads() throws {
    for method in ["ae", "ae-shared"] {
      let out = folder.appendingPathComponent(method)
      let result = try CLI.run(["compress", "--model", model.path, "--method", method, "--ratio", "2", "--steps", "10", "--out", out.path])
      XCTAssertEqual(result.status, 0, result.error)
      // One block per stack: every matrix type occurs once, so ae-shared has nothing to share here
      // (WeightAutoencoderTests covers sharing across blocks).
      XCTAssertTrue(result.output.contains("encoded 16 layers with 16 autoencoders"), result.output)
      let loaded = try ModelLoading.load(from: out)
      XCTAssertEqual(AutoencodedCompression.groups(of: loaded).count, 16)
      XCTAssertEqual(try TransformChain.stages(in: out).first?["steps"], .number(10))
    }
  }
}
