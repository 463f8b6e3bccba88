import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// Pruned fixtures against `transformers` on the folders `tessera prune` wrote from them
/// (logits in `Fixtures/<name>/pruned.safetensors`, made by `Tests/Reference/make_pruning_fixtures.py`).
final class PruningParityTests: XCTestCase {
  /// The cases the script ran, with the settings its metadata records.
  private let cases: [(fixture: String, key: String, arguments: String, prune: (any Seq2SeqModel) throws -> any Seq2SeqModel)] = [
    ("t5_v1_1", "structured", "--method structured --sparsity 0.5", {
      try StructuredPruning.prune($0, sparsity: 0.5, targets: [.attention, .ffn]).model
    }),
    ("t5_v1_0", "structured", "--method structured --sparsity 0.25", {
      try StructuredPruning.prune($0, sparsity: 0.25, targets: [.attention, .ffn]).model
    }),
    ("bart", "structured", "--method structured --sparsity 0.5 --targets ffn", {
      try StructuredPruning.prune($0, sparsity: 0.5, targets: [.ffn]).model
    }),
    ("t5_v1_1", "magnitude", "--method magnitude --sparsity 0.6 --dense", { model in
      MagnitudePruning.prune(model, sparsity: 0.6, scope: .global, targets: [.attention, .ffn])
      return model
    }),
    ("bart", "magnitude", "--method magnitude --sparsity 0.6 --scope layer --dense", { model in
      MagnitudePruning.prune(model, sparsity: 0.6, scope: .layer, targets: [.attention, .ffn])
      return model
    }),
  ]

  func testPrunedModelsMatchTransformersOnTheFoldersTesseraWrote() throws {
    for (name, key, arguments, prune) in cases {
      let fixture = try ReferenceFixture(name)
      let recorded = try SafeTensorsFile.read(from: fixture.folder.appendingPathComponent("pruned.safetensors"))
      XCTAssertEqual(recorded.metadata[key], arguments, "\(name): the script pruned with other settings")
      let pruned = try prune(try ModelLoading.load(from: fixture.folder))
      let logits = withoutGradient { pruned.forward(try! fixture.batch()) }
      let expected = try XCTUnwrap(recorded.tensors["\(key)_logits"], "\(name): no \(key)_logits")
      XCTAssertEqual(logits.shape, expected.shape, "\(name) \(key)")
      XCTAssertLessThanOrEqual(relativeMaxError(logits, expected), 1e-4, "\(name) \(key) logits")
      // Pruning changed the model: the unpruned logits are far from these.
      XCTAssertGreaterThan(relativeMaxError(try fixture.tensor("logits"), expected), 1e-2, "\(name) \(key)")
    }
  }
}
