/// Sequences of ids padded into one row-major `[B, L]` block with its mask.
public struct PaddedBatch: Sendable, Equatable {
  /// `[B, L]` ids, row-major; padding positions hold the pad id.
  public let ids: [Int]
  /// `[B, L]`: 1 for a real token, 0 for padding.
  public let mask: [Float]
  public let batchSize: Int
  public let length: Int

  public var shape: [Int] { [batchSize, length] }

  /// Pads `sequences` on the right with `padID` to the longest one, rounded up
  /// to a multiple of `multiple` (e.g. 8, for friendlier matrix shapes).
  public init(padding sequences: [[Int]], padID: Int, toMultipleOf multiple: Int = 1) {
    precondition(multiple > 0, "pad multiple must be positive")
    let longest = sequences.map(\.count).max() ?? 0
    let length = (longest + multiple - 1) / multiple * multiple
    var ids = [Int](repeating: padID, count: sequences.count * length)
    var mask = [Float](repeating: 0, count: sequences.count * length)
    for (row, sequence) in sequences.enumerated() {
      for (column, id) in sequence.enumerated() {
        ids[row * length + column] = id
        mask[row * length + column] = 1
      }
    }
    self.ids = ids
    self.mask = mask
    self.batchSize = sequences.count
    self.length = length
  }

  /// The unpadded sequence of row `row`.
  public func row(_ row: Int) -> [Int] {
    (0..<length).compactMap { mask[row * length + $0] == 1 ? ids[row * length + $0] : nil }
  }
}

/// Encoder inputs, decoder inputs and labels of one teacher-forced batch.
///
/// Targets are used as given (append EOS before, if the model expects it).
/// The decoder reads `decoderStartID` followed by the target without its last
/// token, and learns to predict the target; label positions past a target's end
/// hold `ignoreIndex`, so the loss skips them.
public struct TeacherForcedBatch: Sendable, Equatable {
  /// `[B, S]` encoder ids and attention mask.
  public let encoder: PaddedBatch
  /// `[B, T]` decoder ids (shifted right) and mask.
  public let decoder: PaddedBatch
  /// `[B, T]` target ids, `ignoreIndex` at padding.
  public let labels: [Int]
  /// Real (non-ignored) label tokens: the denominator of a mean token loss.
  public let labelCount: Int

  public init(sources: [[Int]], targets: [[Int]], padID: Int, decoderStartID: Int, ignoreIndex: Int = -100) throws {
    guard sources.count == targets.count else {
      throw BatchingError.countMismatch(sources: sources.count, targets: targets.count)
    }
    encoder = PaddedBatch(padding: sources, padID: padID)
    decoder = PaddedBatch(padding: targets.map { [decoderStartID] + $0.dropLast() }, padID: padID)
    let length = decoder.length
    var labels = [Int](repeating: ignoreIndex, count: targets.count * length)
    for (row, target) in targets.enumerated() {
      for (column, id) in target.enumerated() { labels[row * length + column] = id }
    }
    self.labels = labels
    labelCount = targets.reduce(0) { $0 + $1.count }
  }
}
