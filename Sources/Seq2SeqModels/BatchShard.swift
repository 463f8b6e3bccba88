import NeuralLayers

extension Seq2SeqBatch {
  /// Process `rank`'s share of this batch among `size`: a contiguous block of
  /// whole examples (sizes differ by at most one), padded as the whole batch
  /// is, so each example is computed as it would be in one process.
  public func shard(rank: Int, size: Int) throws -> Seq2SeqBatch {
    guard size > 1 else { return self }
    guard batchSize >= size else {
      throw TrainingError("a batch of \(batchSize) examples cannot be shared by \(size) processes; use fewer processes or larger batches")
    }
    let first = rank * batchSize / size, end = (rank + 1) * batchSize / size
    let sourceRange = (first * sourceLength)..<(end * sourceLength)
    let targetRange = (first * targetLength)..<(end * targetLength)
    var part = Seq2SeqBatch(
      batchSize: end - first, sourceLength: sourceLength, sourceIDs: Array(sourceIDs[sourceRange]),
      sourceKeep: Array(sourceKeep[sourceRange]), targetLength: targetLength,
      decoderInputIDs: Array(decoderInputIDs[targetRange]), decoderKeep: decoderKeep.map { Array($0[targetRange]) },
      labels: Array(labels[targetRange]))
    part.rows = BatchRows(first: first, count: end - first, total: batchSize)
    part.tokenShare = Float(part.countedTargets) / Float(max(countedTargets, 1))
    return part
  }
}
