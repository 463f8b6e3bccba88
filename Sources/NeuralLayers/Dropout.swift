import TensorCore

/// Dropout that draws its masks from its own seeded generator, so a training
/// step's masks depend only on the seed and the step (which makes resumed runs exact).
public final class Dropout {
  public let rate: Float
  private var generator: SeededRandom

  public init(rate: Float, generator: SeededRandom) {
    precondition(rate >= 0 && rate < 1, "dropout rate \(rate) must be in [0, 1)")
    self.rate = rate
    self.generator = generator
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    rate == 0 ? x : x.dropout(rate: rate, using: &generator)
  }

  /// The closure form layer stacks take; nil when the rate is zero.
  public var closure: ((Tensor) -> Tensor)? { rate == 0 ? nil : { self($0) } }
}
