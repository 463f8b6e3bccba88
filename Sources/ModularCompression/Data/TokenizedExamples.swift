import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// Examples with their token ids (source and target each end with EOS).
public struct TokenizedExamples: Sendable {
  public var examples: [Example]
  public var sources: [[Int]]
  public var targets: [[Int]]

  public init(_ examples: [Example], tokenizer: any TextTokenizer, maxLength: Int? = nil) {
    self.examples = examples
    sources = examples.map { tokenizer.encode($0.source, addSpecialTokens: true, maxLength: maxLength) }
    targets = examples.map { tokenizer.encode($0.target, addSpecialTokens: true, maxLength: maxLength) }
  }

  public var count: Int { examples.count }

  /// Fixed batches in length order (for validation and evaluation), each
  /// within `tokenBudget` padded tokens.
  public func orderedBatches(tokenBudget: Int, tokens: SpecialTokenIDs) -> [Seq2SeqBatch] {
    let order = sources.indices.sorted { (sources[$0].count, targets[$0].count, $0) < (sources[$1].count, targets[$1].count, $1) }
    var batches: [[Int]] = [], current: [Int] = []
    var longest = 0
    for index in order {
      let length = sources[index].count + targets[index].count
      if !current.isEmpty && (current.count + 1) * max(longest, length) > tokenBudget {
        batches.append(current)
        current = []
        longest = 0
      }
      current.append(index)
      longest = max(longest, length)
    }
    if !current.isEmpty { batches.append(current) }
    return batches.map { makeBatch($0, tokens: tokens) }
  }

  /// The padded teacher-forced batch of the examples at `indices`.
  public func makeBatch(_ indices: [Int], tokens: SpecialTokenIDs) -> Seq2SeqBatch {
    // Built from validated ids, so the count check inside cannot fail.
    let padded = try! TeacherForcedBatch(
      sources: indices.map { sources[$0] }, targets: indices.map { targets[$0] }, padID: tokens.pad,
      decoderStartID: tokens.decoderStart)
    return Seq2SeqBatch(
      batchSize: indices.count, sourceLength: padded.encoder.length, sourceIDs: padded.encoder.ids,
      sourceKeep: padded.encoder.mask, targetLength: padded.decoder.length, decoderInputIDs: padded.decoder.ids,
      labels: padded.labels)
  }
}

/// Shuffled, length-bucketed batches under a token budget, epoch after epoch.
/// The batch of a step depends only on the seed and the step.
public final class TokenBudgetSchedule: BatchSchedule, @unchecked Sendable {
  let data: TokenizedExamples
  let batcher: TokenBudgetBatcher
  let seed: UInt64
  let tokens: SpecialTokenIDs
  private var epochs: [[[Int]]] = []

  public init(_ data: TokenizedExamples, tokenBudget: Int, seed: UInt64, tokens: SpecialTokenIDs) throws {
    guard data.count > 0 else { throw TrainingError("no training examples") }
    self.data = data
    batcher = try TokenBudgetBatcher(sources: data.sources, targets: data.targets, tokenBudget: tokenBudget)
    self.seed = seed
    self.tokens = tokens
  }

  public func batch(forStep step: Int) -> Seq2SeqBatch {
    var remaining = step - 1
    var epoch = 0
    while true {
      if epoch == epochs.count { epochs.append(batcher.batches(epoch: epoch, seed: seed)) }
      if remaining < epochs[epoch].count { return data.makeBatch(epochs[epoch][remaining], tokens: tokens) }
      remaining -= epochs[epoch].count
      epoch += 1
    }
  }
}
