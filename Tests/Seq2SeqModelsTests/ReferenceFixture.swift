import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

/// One model folder of `Fixtures/` with its recorded reference outputs
/// (made by `Tests/Reference/make_fixtures.py`).
struct ReferenceFixture {
  static let names = ["t5_v1_0", "t5_v1_1", "bart", "bart_scaled"]

  let name: String
  let folder: URL
  let reference: [String: Tensor]

  init(_ name: String) throws {
    guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      throw TrainingError("the Fixtures resource is missing")
    }
    self.name = name
    folder = root.appendingPathComponent(name)
    reference = try SafeTensorsFile.read(from: folder.appendingPathComponent("reference.safetensors")).tensors
  }

  func tensor(_ key: String) throws -> Tensor {
    guard let tensor = reference[key] else { throw TrainingError("\(name): no reference tensor '\(key)'") }
    return tensor
  }

  func ints(_ key: String) throws -> [Int] { try tensor(key).scalars.map { Int($0) } }

  /// The recorded batch, with the decoder mask the reference passed.
  func batch() throws -> Seq2SeqBatch {
    let ids = try tensor("input_ids"), labels = try tensor("labels")
    return Seq2SeqBatch(
      batchSize: ids.shape[0], sourceLength: ids.shape[1], sourceIDs: try ints("input_ids"),
      sourceKeep: try tensor("attention_mask").scalars, targetLength: labels.shape[1],
      decoderInputIDs: try ints("decoder_input_ids"), decoderKeep: try tensor("decoder_attention_mask").scalars,
      labels: try ints("labels"))
  }

  /// The number of layers recorded for a stack.
  func depth(_ stack: String) -> Int {
    reference.keys.filter { $0.hasPrefix("\(stack)_hidden_states.") }.count - 1
  }
}

/// Max absolute difference relative to the reference tensor's largest magnitude.
func relativeMaxError(_ actual: Tensor, _ expected: Tensor) -> Float {
  let scale = max(expected.scalars.map(abs).max() ?? 0, 1e-6)
  return zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// ‖a − b‖ / ‖b‖ in Double.
func relativeNormError(_ actual: Tensor, _ expected: Tensor) -> Double {
  var difference = 0.0, norm = 0.0
  for (a, b) in zip(actual.scalars, expected.scalars) {
    difference += Double(a - b) * Double(a - b)
    norm += Double(b) * Double(b)
  }
  return (difference / max(norm, 1e-30)).squareRoot()
}
