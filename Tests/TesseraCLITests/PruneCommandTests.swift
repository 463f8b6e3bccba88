import Foundation
import JSONFormat
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// `tessera prune` on a tiny model folder.
final class PruneCommandTests: TinyModelCLITestCase {
  func testMagnitudeWritesASmallerSparseFolderThatLoadsQuantizesAndRecordsItsChain() throws {
    let out = folder.appendingPathComponent("mag")
    let result = try CLI.run(["prune", "--model", model.path, "--method", "magnitude", "--sparsity", "0.8", "--out", out.path])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(result.output.contains("pruned 16 layers by magnitude (global scope): 80.0% of their weights are zero"), result.output)
    XCTAssertTrue(result.output.contains("weight files:") && result.output.contains("logits on a random batch"), result.output)
    XCTAssertLessThan(try CheckpointFiles.byteCount(in: out), try CheckpointFiles.byteCount(in: model))
    XCTAssertEqual(SparseWeightStorage.sparseLayers(of: try ModelLoading.load(from: out)).count, 16)
    XCTAssertEqual(try CLI.run(["generate", "--model", out.path, "12+3"]).status, 0)

    // Quantizing it keeps the zeros (int8 of 0 is 0), and the int8 layers stay stored sparse.
    let int8 = folder.appendingPathComponent("mag-int8")
    XCTAssertEqual(try CLI.run(["quantize", "--model", out.path, "--scheme", "int8", "--out", int8.path]).status, 0)
    let stages = try TransformChain.stages(in: int8).map { $0["stage"].flatMap { if case .string(let s) = $0 { s } else { nil } } }
    XCTAssertEqual(stages, ["prune", "quantize"])
    let quantized = try ModelLoading.load(from: int8)
    XCTAssertEqual(SparseWeightStorage.sparseLayers(of: quantized).count, 16)
    let denseInt8 = folder.appendingPathComponent("int8")
    XCTAssertEqual(try CLI.run(["quantize", "--model", model.path, "--scheme", "int8", "--out", denseInt8.path]).status, 0)
    XCTAssertLessThan(try CheckpointFiles.byteCount(in: int8), try CheckpointFiles.byteCount(in: denseInt8))
    let key = "encoder.block.0.layer.0.SelfAttention.q"
    let q = try XCTUnwrap(LinearLayers.all(in: quantized).first { $0.key == key }?.layer as? Int8Linear)
    let pruned = try XCTUnwrap(LinearLayers.all(in: try ModelLoading.load(from: out)).first { $0.key == key }?.layer as? Linear)
    XCTAssertGreaterThan(pruned.weight.value.scalars.filter { $0 == 0 }.count, 0)
    for (value, original) in zip(q.fused().weight.value.scalars, pruned.weight.value.scalars) where original == 0 { XCTAssertEqual(value, 0) }

    let dense = folder.appendingPathComponent("mag-dense")
    let layerScope = ["prune", "--model", model.path, "--method", "magnitude", "--sparsity", "0.5", "--scope", "layer", "--dense", "--out", dense.path]
    XCTAssertEqual(try CLI.run(layerScope).status, 0)
    let header = try SafeTensorsFile.readHeader(from: dense.appendingPathComponent("model.safetensors"))
    XCTAssertEqual(Set(header.entries.map(\.dtype)), [.float32])
    XCTAssertNil(try JSONValue.parse(FileAccess.read(dense.appendingPathComponent("config.json")))[SparseWeightStorage.sectionKey])
  }

  func testStructuredWritesASmallerOrdinaryModel() throws {
    let out = folder.appendingPathComponent("structured")
    let result = try CLI.run(["prune", "--model", model.path, "--method", "structured", "--sparsity", "0.5", "--out", out.path])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(result.output.contains("heads per layer: encoder 2 → 1, decoder 2 → 1; feed-forward units: encoder 32 → 16, decoder 32 → 16"), result.output)
    let config = try JSONValue.parse(FileAccess.read(out.appendingPathComponent("config.json")))
    XCTAssertEqual(config["num_heads"]?.integerValue, 1)
    XCTAssertEqual(config["d_ff"]?.integerValue, 16)
    XCTAssertNil(config[SparseWeightStorage.sectionKey])
    XCTAssertEqual(try CLI.run(["generate", "--model", out.path, "12+3"]).status, 0)
    let refused = try CLI.run(["prune", "--model", out.path, "--method", "structured", "--sparsity", "0.5", "--out", folder.appendingPathComponent("s2").path])
    XCTAssertTrue(refused.error.contains("--sparsity 0.5 removes all 1 attention heads of a layer"), refused.error)
  }

  func testRefusesBadArguments() throws {
    let out = folder.appendingPathComponent("p").path
    func error(_ extra: [String]) throws -> String {
      let result = try CLI.run(["prune", "--model", model.path, "--out", out] + extra)
      XCTAssertNotEqual(result.status, 0, extra.joined(separator: " "))
      return result.error
    }
    for sparsity in ["0", "1", "1.5", "-0.2", "half"] {
      let message = try error(["--method", "magnitude", "--sparsity", sparsity])
      XCTAssertTrue(message.contains("--sparsity"), message)
    }
    XCTAssertTrue(try error(["--method", "random", "--sparsity", "0.5"]).contains("--method must be magnitude or structured, got 'random'"))
    XCTAssertTrue(try error(["--method", "structured", "--sparsity", "0.5", "--scope", "layer"]).contains("--scope layer is for magnitude pruning"))
    XCTAssertTrue(try error(["--method", "structured", "--sparsity", "0.5", "--dense"]).contains("--dense is for magnitude pruning"))
    XCTAssertTrue(try error(["--method", "magnitude", "--sparsity", "0.5", "--scope", "row"]).contains("--scope must be global or layer, got 'row'"))
    XCTAssertTrue(try error(["--method", "magnitude", "--sparsity", "0.5", "--targets", "heads"]).contains("--targets takes attention, ffn, got 'heads'"))
    let svd = folder.appendingPathComponent("svd")
    XCTAssertEqual(try CLI.run(["compress", "--model", model.path, "--method", "svd", "--ratio", "2", "--out", svd.path]).status, 0)
    let structured = try CLI.run(["prune", "--model", svd.path, "--method", "structured", "--sparsity", "0.5", "--out", out])
    XCTAssertTrue(structured.error.contains("is not a dense linear layer: structured pruning slices dense weights"), structured.error)
    let magnitude = try CLI.run(["prune", "--model", svd.path, "--method", "magnitude", "--sparsity", "0.5", "--out", out])
    XCTAssertTrue(magnitude.error.contains("has no dense attention or ffn layers to prune"), magnitude.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written when the arguments are refused")
  }
}
