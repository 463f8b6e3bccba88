extension Tensor {
  /// A tensor of independent uniform samples in `[low, high)`, drawn in
  /// row-major order as `low + (high − low) · rng.nextFloat()`.
  public static func uniform(
    _ shape: [Int], low: Float, high: Float, using rng: inout SeededRandom
  ) -> Tensor {
    precondition(low <= high, "uniform needs low <= high, got [\(low), \(high))")
    let width = high - low
    return filledOneDrawEach(shape, using: &rng) { low + width * $0.nextFloat() }
  }

  /// A tensor of independent normal samples, drawn in row-major order as
  /// `mean + std · rng.nextNormal()`.
  public static func normal(
    _ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout SeededRandom
  ) -> Tensor {
    precondition(std >= 0, "normal needs a non-negative std, got \(std)")
    return filled(shape, using: &rng) { mean + std * $0.nextNormal() }
  }

  /// A dropout mask: each element is 1 with probability `keepProbability`
  /// (when `rng.nextFloat() < keepProbability`) and 0 otherwise. Scaling by
  /// `1 / keepProbability` is left to the caller.
  public static func bernoulliMask(
    _ shape: [Int], keepProbability: Float, using rng: inout SeededRandom
  ) -> Tensor {
    precondition(
      (0...1).contains(keepProbability),
      "bernoulliMask needs keepProbability in [0, 1], got \(keepProbability)")
    return filledOneDrawEach(shape, using: &rng) { $0.nextFloat() < keepProbability ? 1 : 0 }
  }

  /// A new tensor of `shape` whose elements, in row-major order, are `sample(&rng)`.
  private static func filled(
    _ shape: [Int], using rng: inout SeededRandom, _ sample: (inout SeededRandom) -> Float
  ) -> Tensor {
    var result = Tensor(uninitializedShape: shape)
    result.withMutableValues { values in
      for index in values.indices { values[index] = sample(&rng) }
    }
    return result
  }

  /// ``filled(_:using:_:)`` for samplers that draw exactly one `nextUInt32()`
  /// per element: each thread starts from a copy of `rng` advanced to its first
  /// element, so the values are those of a serial fill.
  private static func filledOneDrawEach(
    _ shape: [Int], using rng: inout SeededRandom, _ sample: (inout SeededRandom) -> Float
  ) -> Tensor {
    let result = Tensor(uninitializedShape: shape)
    let values = result.storage.pointer, start = rng
    parallelChunks(result.count, grain: 1 << 15) { range in
      var local = start.advanced(by: UInt64(range.lowerBound))
      for i in range { values[i] = sample(&local) }
    }
    rng.advance(by: UInt64(result.count))
    return result
  }
}
