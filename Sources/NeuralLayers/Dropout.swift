import TensorCore

/// Dropout that draws its masks from its own seeded generator, so a training
/// step's masks depend only on the seed and the step (which makes resumed runs exact).
///
/// With `rows`, the tensors hold only some rows of the step's batch (one
/// process's share of a data-parallel step): each mask is then the slice of
/// the mask the whole batch would get, so a run's masks do not depend on how
/// many processes share it, and every process draws different ones.
public final class Dropout {
  public let rate: Float
  public let rows: BatchRows?
  private var generator: SeededRandom

  public init(rate: Float, generator: SeededRandom, rows: BatchRows? = nil) {
    precondition(rate >= 0 && rate < 1, "dropout rate \(rate) must be in [0, 1)")
    self.rate = rate
    self.generator = generator
    self.rows = rows
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    guard rate > 0 else { return x }
    guard let rows, rows.count < rows.total else { return x.dropout(rate: rate, using: &generator) }
    // Every dropped tensor leads with the batch axis, so each row holds count / rows elements.
    precondition(x.count % rows.count == 0, "dropout of \(x.shape) over \(rows.count) batch rows")
    let perRow = x.count / rows.count
    var slice = generator.advanced(by: UInt64(rows.first * perRow))
    let out = x.dropout(rate: rate, using: &slice)
    generator.advance(by: UInt64(rows.total * perRow))
    return out
  }

  /// The closure form layer stacks take; nil when the rate is zero.
  public var closure: ((Tensor) -> Tensor)? { rate == 0 ? nil : { self($0) } }
}

/// Which rows of a step's whole batch a tensor's batch axis holds.
public struct BatchRows: Sendable, Equatable {
  public var first: Int
  public var count: Int
  public var total: Int
  public init(first: Int, count: Int, total: Int) {
    self.first = first
    self.count = count
    self.total = total
  }
}
