import Foundation
import JSONFormat
import ModularCompression
import Seq2SeqModels
import TensorCore
import XCTest

/// `tessera compress --method embedding-ae|embedding-svd` on a tiny model folder (a 259 × 16 tied table).
final class EmbeddingCompressionCLITests: TinyModelCLITestCase {
  private func compress(_ arguments: [String], out: String) throws -> (status: Int32, output: String, error: String) {
    let result = try CLI.run(["compress", "--out", folder.appendingPathComponent(out).path] + arguments)
    return (result.status, result.output, result.error)
  }

  func testBothMethodsWriteFoldersThatLoadAndDenseOnesForReferenceTools() throws {
    let svd = try compress(["--model", model.path, "--method", "embedding-svd", "--ratio", "4"], out: "svd")
    XCTAssertEqual(svd.status, 0, svd.error)
    // V·C/(V + C) = 259·16/275 = 15.07, so ratio 4 leaves rank 3: 259·3 + 3·16 floats.
    XCTAssertTrue(svd.output.contains("compressed the shared embedding [259 × 16] by truncated SVD"), svd.output)
    XCTAssertTrue(svd.output.contains("to rank 3: 4,144 → 825 floats (5.02× fewer)"), svd.output)
    XCTAssertTrue(svd.output.contains("the head is tied: logits read the same decoded table"), svd.output)
    let loaded = try ModelLoading.load(from: folder.appendingPathComponent("svd"))
    XCTAssertEqual(EmbeddingCompression.factors(of: loaded)?.method, "svd")
    XCTAssertEqual(try CLI.run(["generate", "--model", folder.appendingPathComponent("svd").path, "12+3"]).status, 0)

    let ae = try compress(["--model", model.path, "--method", "embedding-ae", "--ratio", "2", "--steps", "20", "--dense"], out: "ae-dense")
    XCTAssertEqual(ae.status, 0, ae.error)
    XCTAssertTrue(ae.output.contains("by a linear autoencoder (20 Adam steps from the SVD start) to rank 7"), ae.output)
    XCTAssertTrue(ae.output.contains("direction-aware loss (α = 0.1)"), ae.output)
    let names = try SafeTensorsFile.readHeader(from: folder.appendingPathComponent("ae-dense/model.safetensors")).names
    XCTAssertTrue(names.contains("shared.weight") && !names.contains("shared.latents"), "\(names)")
    let stages = try TransformChain.stages(in: folder.appendingPathComponent("ae-dense"))
    XCTAssertEqual(stages.first?["method"], .string("embedding-ae"))
    XCTAssertEqual(stages.first?["targets"], .array([.string("shared_embedding")]))
    XCTAssertEqual(stages.first?["steps"], .number(20))
  }

  func testBadArgumentsAndCompressedModelsAreRefused() throws {
    for (arguments, message) in [
      (["--ratio", "20"], "--ratio must be a number > 1 that leaves the table at least rank 1 (at most 15.1 here), got 20.0"),
      (["--ratio", "1"], "--ratio must be a number > 1"),
      (["--ratio", "2", "--targets", "ffn"], "--targets names block layers; --method embedding-svd compresses the shared embedding"),
      (["--ratio", "2", "--task", "numbers"], "--method embedding-svd uses no data"),
    ] {
      let refused = try compress(["--model", model.path, "--method", "embedding-svd"] + arguments, out: "x")
      XCTAssertNotEqual(refused.status, 0)
      XCTAssertTrue(refused.error.contains(message), refused.error)
    }
    XCTAssertEqual(try compress(["--model", model.path, "--method", "embedding-svd", "--ratio", "2"], out: "once").status, 0)
    let twice = try compress(["--model", folder.appendingPathComponent("once").path, "--method", "embedding-ae", "--ratio", "2"], out: "twice")
    XCTAssertTrue(twice.error.contains("the shared embedding is already compressed (svd, rank 7); compress the model it came from"), twice.error)
    XCTAssertEqual(try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--out", folder.appendingPathComponent("int8").path]).status, 0)
    let quantized = try compress(["--model", folder.appendingPathComponent("int8").path, "--method", "embedding-svd", "--ratio", "2"], out: "q")
    XCTAssertTrue(quantized.error.contains("is quantized (int8); compress its fp32 model, then quantize"), quantized.error)
  }

  /// svd on the blocks → embedding-ae → int8: each stage loads, and the chain lists all three.
  func testTheStagesStack() throws {
    XCTAssertEqual(try compress(["--model", model.path, "--method", "svd", "--ratio", "2"], out: "svd").status, 0)
    let embedded = try compress(
      ["--model", folder.appendingPathComponent("svd").path, "--method", "embedding-ae", "--ratio", "4", "--steps", "10"], out: "svd-emb")
    XCTAssertEqual(embedded.status, 0, embedded.error)
    let both = try ModelLoading.load(from: folder.appendingPathComponent("svd-emb"))
    XCTAssertEqual(LowRankCompression.ranks(of: both).count, 16)
    XCTAssertEqual(EmbeddingCompression.factors(of: both)?.rank, 3)
    let int8 = folder.appendingPathComponent("svd-emb-int8")
    let quantized = try CLI.run(["quantize", "--model", folder.appendingPathComponent("svd-emb").path, "--scheme", "int8", "--out", int8.path])
    XCTAssertEqual(quantized.status, 0, quantized.error)
    // 16 layers as two factors each; the tied head reads the compressed table and stays fp32.
    XCTAssertTrue(quantized.output.contains("quantized 32 linear layers to int8"), quantized.output)
    let stack = try ModelLoading.load(from: int8)
    XCTAssertEqual(ModelQuantization.scheme(of: stack), .int8)
    XCTAssertEqual(EmbeddingCompression.factors(of: stack)?.method, "autoencoder")
    XCTAssertEqual(try TransformChain.stages(in: int8).map { $0["method"] ?? $0["scheme"] }, [.string("svd"), .string("embedding-ae"), .string("int8")])
    XCTAssertEqual(try CLI.run(["generate", "--model", int8.path, "12+3"]).status, 0)
  }
}
