import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

/// Tessera against Hugging Face `transformers` on the committed tiny models.
final class ReferenceParityTests: XCTestCase {
  func testForwardHiddenStatesAttentionAndLoss() throws {
    for name in ReferenceFixture.names {
      let fixture = try ReferenceFixture(name)
      let model = try ModelLoading.load(from: fixture.folder)
      let batch = try fixture.batch()
      let encoderDepth = fixture.depth("encoder"), decoderDepth = fixture.depth("decoder")
      XCTAssertEqual(model.encoder.depth, encoderDepth, name)
      XCTAssertEqual(model.decoder.depth, decoderDepth, name)
      let encoderTaps = StackTaps(attentionBlocks: Set(0..<encoderDepth))
      let decoderTaps = StackTaps(attentionBlocks: Set(0..<decoderDepth))
      let logits = withoutGradient { model.forward(batch, encoderTaps: encoderTaps, decoderTaps: decoderTaps) }

      XCTAssertLessThanOrEqual(relativeMaxError(logits, try fixture.tensor("logits")), 1e-4, "\(name) logits")
      for (stack, taps, depth) in [("encoder", encoderTaps, encoderDepth), ("decoder", decoderTaps, decoderDepth)] {
        for i in 0...depth {
          // The reference's last entry is the stack output (after T5's final norm).
          let ours = i == depth ? taps.output! : taps.hiddenStates[i]
          let error = relativeMaxError(ours, try fixture.tensor("\(stack)_hidden_states.\(i)"))
          XCTAssertLessThanOrEqual(error, 1e-4, "\(name) \(stack) hidden state \(i)")
        }
      }
      for l in 0..<encoderDepth {
        XCTAssertLessThanOrEqual(
          relativeMaxError(encoderTaps.selfAttention[l]!, try fixture.tensor("encoder_attentions.\(l)")), 1e-4, "\(name) enc attn \(l)")
      }
      for l in 0..<decoderDepth {
        XCTAssertLessThanOrEqual(
          relativeMaxError(decoderTaps.selfAttention[l]!, try fixture.tensor("decoder_attentions.\(l)")), 1e-4, "\(name) dec attn \(l)")
        XCTAssertLessThanOrEqual(
          relativeMaxError(decoderTaps.crossAttention[l]!, try fixture.tensor("cross_attentions.\(l)")), 1e-4, "\(name) cross attn \(l)")
      }
      let loss = model.loss(logits: logits, batch: batch).item()
      XCTAssertEqual(loss, try fixture.tensor("loss").item(), accuracy: 1e-5 * abs(loss), "\(name) loss")
      let smoothed = model.loss(logits: logits, batch: batch, labelSmoothing: 0.1).item()
      XCTAssertEqual(smoothed, try fixture.tensor("loss_label_smoothing").item(), accuracy: 1e-5 * abs(smoothed), "\(name) smoothed loss")
    }
  }

  func testEveryParameterGradient() throws {
    for name in ReferenceFixture.names {
      let fixture = try ReferenceFixture(name)
      let model = try ModelLoading.load(from: fixture.folder)
      let batch = try fixture.batch()
      model.loss(logits: model.forward(batch), batch: batch).backward()
      let references = fixture.reference.filter { $0.key.hasPrefix("grad.") }
      var checked = 0
      for (referenceKey, expected) in references {
        let key = ourKey(String(referenceKey.dropFirst("grad.".count)))
        guard let parameter = model.namedParameters().first(where: { $0.key == key })?.parameter else {
          XCTFail("\(name): no parameter \(key)")
          continue
        }
        guard let grad = parameter.grad else {
          XCTFail("\(name): \(key) got no gradient")
          continue
        }
        if key.hasSuffix("k_proj.bias") {
          // Analytically zero: a key bias adds the same q·b to every score of a row,
          // and softmax ignores that. Both sides hold only rounding noise.
          XCTAssertLessThanOrEqual(norm(grad), 1e-5, "\(name) grad \(key) should vanish")
          XCTAssertLessThanOrEqual(norm(expected), 1e-5, "\(name) reference grad \(key) should vanish")
        } else {
          XCTAssertLessThanOrEqual(relativeNormError(grad, expected), 1e-3, "\(name) grad \(key)")
        }
        checked += 1
      }
      // Every trainable parameter has a reference gradient (BART's final_logits_bias is a buffer).
      XCTAssertEqual(checked, model.uniqueNamedParameters().filter { $0.key != "final_logits_bias" }.count, name)
    }
  }

  func testRelativePositionBuckets() throws {
    for name in ["t5_v1_0", "t5_v1_1"] {
      let fixture = try ReferenceFixture(name)
      let config = try JSONDecoder().decode(T5Configuration.self, from: Data(contentsOf: fixture.folder.appendingPathComponent("config.json")))
      for (stack, bidirectional) in [("encoder", true), ("decoder", false)] {
        let expected = try fixture.tensor("relative_buckets.\(stack)")
        let n = expected.shape[0]
        for i in 0..<n {
          for j in 0..<n {
            let bucket = RelativePositionBias.bucket(
              relative: j - i, isBidirectional: bidirectional, bucketCount: config.relativeAttentionNumBuckets,
              maxDistance: config.relativeAttentionMaxDistance)
            XCTAssertEqual(bucket, Int(expected[i, j]), "\(name) \(stack) (\(i), \(j))")
          }
        }
      }
    }
  }

  private func norm(_ t: Tensor) -> Double { t.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

  /// Reference parameter names → ours (T5's relative bias lives on the stack).
  private func ourKey(_ key: String) -> String {
    key.replacingOccurrences(of: ".block.0.layer.0.SelfAttention.relative_attention_bias", with: ".relative_attention_bias")
  }
}
