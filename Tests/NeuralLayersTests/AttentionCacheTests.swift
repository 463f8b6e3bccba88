import NeuralLayers
import TensorCore
import XCTest

final class AttentionCacheTests: XCTestCase {
  /// 40 one-token steps (the cache grows past its first capacity twice): the
  /// fused decoding path (no gradients) against the tensor path, for
  /// self-attention with a position-style bias and cross-attention with a mask.
  func testFusedDecodingStepsMatchTheTensorPath() {
    var generator = SeededRandom(seed: 9)
    let attention = MultiHeadAttention(
      modelWidth: 24, heads: 3, headWidth: 8, hasBias: true, scaleScores: true, projectionNames: ["q", "k", "v", "o"],
      using: &generator)
    let (batch, steps, sourceLength) = (2, 40, 7)
    let memory = Tensor.normal([batch, sourceLength, 24], std: 1, using: &generator)
    // The second source has 4 real tokens and 3 of padding.
    let mask = (0..<(batch * sourceLength)).map { i -> Float in (i % sourceLength) < (i < sourceLength ? 7 : 4) ? 0 : -1e9 }
    let memoryBias = Tensor(mask, shape: [batch, 1, 1, sourceLength])
    let inputs = (0..<steps).map { _ in Tensor.normal([batch, 1, 24], std: 1, using: &generator) }
    func run(fused: Bool) -> [[Float]] {
      let selfCache = AttentionCache(), crossCache = AttentionCache()
      return inputs.enumerated().map { step, x in
        let body = { () -> [Float] in
          let bias = Tensor((0...step).map { Float($0) * 0.05 }, shape: [1, 1, 1, step + 1]) + Tensor.zeros([1, 3, 1, step + 1])
          let h = attention(x, bias: bias, cache: selfCache)
          return attention(h, source: memory, bias: memoryBias, cache: crossCache, isCrossAttention: true).scalars
        }
        return fused ? withoutGradient(body) : body()
      }
    }
    let (fused, plain) = (run(fused: true), run(fused: false))
    for (a, b) in zip(fused, plain) {
      for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }
    }
  }

  func testSettingKeysAndValuesReplacesTheCache() {
    let cache = AttentionCache()
    var generator = SeededRandom(seed: 1)
    let keys = Tensor.normal([1, 2, 5, 4], std: 1, using: &generator)
    cache.keys = keys
    cache.values = keys
    XCTAssertEqual(cache.length, 5)
    XCTAssertEqual(cache.keys?.scalars, keys.scalars)
    cache.keys = nil
    XCTAssertEqual(cache.length, 0)
  }
}
