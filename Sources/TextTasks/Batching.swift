import TensorCore

/// Groups tokenised examples into batches for one epoch at a time.
///
/// Each epoch: shuffle all examples (seeded), cut the shuffled order into
/// pools of `poolSize`, sort each pool by length (the bucketing: neighbours
/// have similar lengths, so little padding), fill batches greedily while the
/// padded size `count × (longest source + longest target)` stays within
/// `tokenBudget`, then shuffle the order of the batches. An example that alone
/// exceeds the budget gets a batch of its own (see `oversizedExamples`).
///
/// Works on lengths only, so it does not care which tokenizer made the ids.
public struct TokenBudgetBatcher: Sendable {
  public let sourceLengths: [Int]
  public let targetLengths: [Int]
  public let tokenBudget: Int
  public let poolSize: Int

  /// - Parameters:
  ///   - sourceLengths, targetLengths: token counts of each example, same count.
  ///   - tokenBudget: most padded tokens (source + target) in one batch.
  ///   - poolSize: examples sorted together; larger pools pad less but mix less.
  public init(sourceLengths: [Int], targetLengths: [Int], tokenBudget: Int, poolSize: Int = 2048) throws {
    guard sourceLengths.count == targetLengths.count else {
      throw BatchingError.countMismatch(sources: sourceLengths.count, targets: targetLengths.count)
    }
    guard tokenBudget > 0 else { throw BatchingError.badBudget(tokenBudget) }
    guard poolSize > 0 else { throw BatchingError.badPoolSize(poolSize) }
    self.sourceLengths = sourceLengths
    self.targetLengths = targetLengths
    self.tokenBudget = tokenBudget
    self.poolSize = poolSize
  }

  /// Batching of tokenised examples (`[[Int]]` id arrays).
  public init(sources: [[Int]], targets: [[Int]], tokenBudget: Int, poolSize: Int = 2048) throws {
    try self.init(
      sourceLengths: sources.map(\.count), targetLengths: targets.map(\.count), tokenBudget: tokenBudget, poolSize: poolSize)
  }

  /// Indices of examples whose source + target alone exceed the budget.
  public var oversizedExamples: [Int] {
    sourceLengths.indices.filter { sourceLengths[$0] + targetLengths[$0] > tokenBudget }
  }

  /// The batches (lists of example indices) of epoch `epoch`; the same seed
  /// and epoch always give the same batches, and every example appears once.
  public func batches(epoch: Int, seed: UInt64) -> [[Int]] {
    var random = SeededRandom(seed: seed).split(UInt64(truncatingIfNeeded: epoch))
    return batches(using: &random)
  }

  /// The batches of one epoch, drawing the shuffles from `random`.
  public func batches(using random: inout SeededRandom) -> [[Int]] {
    var order = Array(sourceLengths.indices)
    random.shuffle(&order)
    var batches: [[Int]] = []
    var poolStart = 0
    while poolStart < order.count {
      let pool = order[poolStart..<min(poolStart + poolSize, order.count)]
      poolStart += poolSize
      // Sort by (source, target) length; position in the shuffled order breaks
      // ties so the result does not depend on the sort algorithm.
      let sorted = pool.enumerated().sorted { a, b in
        (sourceLengths[a.element], targetLengths[a.element], a.offset) < (sourceLengths[b.element], targetLengths[b.element], b.offset)
      }.map(\.element)
      var batch: [Int] = []
      var longestSource = 0
      var longestTarget = 0
      for index in sorted {
        let source = max(longestSource, sourceLengths[index])
        let target = max(longestTarget, targetLengths[index])
        if !batch.isEmpty && (batch.count + 1) * (source + target) > tokenBudget {
          batches.append(batch)
          batch = [index]
          longestSource = sourceLengths[index]
          longestTarget = targetLengths[index]
        } else {
          batch.append(index)
          longestSource = source
          longestTarget = target
        }
      }
      if !batch.isEmpty { batches.append(batch) }
    }
    random.shuffle(&batches)
    return batches
  }
}

/// Bad arguments to batching or padding.
public enum BatchingError: Error, Equatable, CustomStringConvertible {
  case countMismatch(sources: Int, targets: Int)
  case badBudget(Int)
  case badPoolSize(Int)

  public var description: String {
    switch self {
    case .countMismatch(let sources, let targets): return "batching needs as many targets as sources (\(sources) sources, \(targets) targets)"
    case .badBudget(let budget): return "the token budget must be positive (got \(budget))"
    case .badPoolSize(let size): return "the pool size must be positive (got \(size))"
    }
  }
}
