import Foundation
import NeuralLayers
import TensorCore

/// Beam search with the reference's bookkeeping (`transformers` ≥ 4.50,
/// `GenerationMixin._beam_search`), reproduced step for step so that the
/// same scores give the same outputs, ties and `-1e9` sentinels included:
///
/// - Every input keeps `K` running beams; at first only beam 0 is live (the
///   others start at `-1e9`). A step scores all `K·V` continuations by
///   cumulative log-probability and keeps the best `2K` candidates.
/// - A candidate that ends with end of sequence, or reaches the length limit,
///   is finished. Only finished candidates ranked in the first `K` may join
///   the input's `K` finished slots, scored `sum / generatedLength ^ lengthPenalty`
///   (the length counts generated tokens, end of sequence included). The best
///   `K` unfinished candidates run on.
/// - An input stops taking hypotheses once early stopping says it cannot
///   improve (see ``EarlyStopping``); the search ends when no input can, or
///   at the length limit. The best finished slot is the answer.
struct BeamSearch {
  let run: GenerationRun
  /// The reference's stand-in for "impossible" scores.
  static let sentinel: Float = -1.0e9

  /// One of an input's `K` finished-hypothesis slots (empty ones hold the sentinel).
  struct Slot {
    var tokens: [Int]
    var score: Float
    var isFinished: Bool
  }

  /// A continuation kept at one step.
  struct Candidate {
    var tokens: [Int]
    var score: Float
    var beam: Int
    var isStopping: Bool
  }

  /// The best hypothesis of every input, decoder start first, padded as the reference pads.
  func search() -> [[Int]] {
    // The reference fills with `pad_token_id or eos_token_id`: a pad id of 0 reads as false there.
    let fill = run.tokens.pad != 0 ? run.tokens.pad : run.tokens.eos
    let best = finishedSlots().map { [run.tokens.decoderStart] + $0[0].tokens }
    let width = best.map(\.count).max() ?? 1
    return best.map { $0 + [Int](repeating: fill, count: width - $0.count) }
  }

  /// Every input's `K` finished slots, best first, when the search ends.
  func finishedSlots() -> [[Slot]] {
    let (beams, batch, options) = (run.options.numBeams, run.batchSize, run.options)
    let vocabulary = run.model.vocabularySize
    let start = run.tokens.decoderStart
    let (memory, memoryKeep) = run.encode(copies: beams)
    let caches = run.model.decoder.blocks.map { _ in BlockCache() }
    var running = [[[Int]]](repeating: [[Int]](repeating: [], count: beams), count: batch)
    var runningScores = [[Float]](
      repeating: [0] + [Float](repeating: Self.sentinel, count: beams - 1), count: batch)
    var slots = [[Slot]](
      repeating: [Slot](repeating: Slot(tokens: [], score: Self.sentinel, isFinished: false), count: beams), count: batch)
    var canImprove = [Bool](repeating: true, count: batch)

    for step in 0..<options.maxNewTokens {
      let prefixes = running.flatMap { $0.map { [start] + $0 } }
      var logProbabilities = run.decodeStep(prefixes, memory: memory, memoryKeep: memoryKeep, caches: caches)
        .logSoftmax().scalars
      var sourceRows: [Int] = []
      var everyCandidateStops = true
      logProbabilities.withUnsafeMutableBufferPointer { all in
        for row in 0..<(batch * beams) {
          run.rules.apply(to: UnsafeMutableBufferPointer(rebasing: all[(row * vocabulary)..<((row + 1) * vocabulary)]), prefix: prefixes[row])
        }
        for item in 0..<batch {
          let candidates = bestContinuations(
            UnsafeBufferPointer(rebasing: all[(item * beams * vocabulary)..<((item + 1) * beams * vocabulary)]),
            running: running[item], scores: runningScores[item], isLastStep: step + 1 == options.maxNewTokens)
          everyCandidateStops = everyCandidateStops && candidates.allSatisfy(\.isStopping)
          // The best K candidates that did not stop run on.
          let next = topIndices(candidates.map { $0.score + ($0.isStopping ? Self.sentinel : 0) }, count: beams)
          running[item] = next.map { candidates[$0].tokens }
          runningScores[item] = next.map { candidates[$0].score + (candidates[$0].isStopping ? Self.sentinel : 0) }
          sourceRows += next.map { item * beams + candidates[$0].beam }
          slots[item] = updatedSlots(slots[item], with: candidates, generated: step + 1, canImprove: canImprove[item])
        }
      }
      for cache in caches {
        cache.selfAttention.keys = cache.selfAttention.keys?.selectingRows(sourceRows)
        cache.selfAttention.values = cache.selfAttention.values?.selectingRows(sourceRows)
        // Cross-attention caches need no reordering: beams only move within
        // an input, and all beams of an input share the same encoder rows.
      }
      for item in 0..<batch where canImprove[item] {
        canImprove[item] = mayImprove(slots[item], bestRunning: runningScores[item][0], generated: step + 1)
      }
      let allFull = options.earlyStopping == .whenBeamsFinished && slots.allSatisfy { $0.allSatisfy(\.isFinished) }
      if !canImprove.contains(true) || allFull || everyCandidateStops { break }
    }
    return slots
  }

  /// The `2K` best continuations of one input's beams, by cumulative score.
  func bestContinuations(
    _ logProbabilities: UnsafeBufferPointer<Float>, running: [[Int]], scores: [Float], isLastStep: Bool
  ) -> [Candidate] {
    let vocabulary = run.model.vocabularySize
    var accumulated = [Float](repeating: 0, count: logProbabilities.count)
    for index in accumulated.indices { accumulated[index] = logProbabilities[index] + scores[index / vocabulary] }
    return topIndices(accumulated, count: 2 * running.count).map { index in
      let (beam, token) = index.quotientAndRemainder(dividingBy: vocabulary)
      return Candidate(
        tokens: running[beam] + [token], score: accumulated[index], beam: beam,
        isStopping: token == run.tokens.eos || isLastStep)
    }
  }

  /// Merges the candidates that just finished into the finished slots (the
  /// reference's `_update_finished_beams`, sentinel arithmetic included).
  func updatedSlots(_ slots: [Slot], with candidates: [Candidate], generated: Int, canImprove: Bool) -> [Slot] {
    let options = run.options
    let lengthFactor = Float(pow(Double(generated), Double(options.lengthPenalty)))
    let isFull = options.earlyStopping == .whenBeamsFinished && slots.allSatisfy(\.isFinished)
    var merged = slots
    for (rank, candidate) in candidates.enumerated() {
      let justFinished = candidate.isStopping && rank < slots.count
      var score = candidate.score / lengthFactor
      if isFull { score += Self.sentinel }
      if !canImprove { score += Self.sentinel }
      if !justFinished { score += Self.sentinel }
      merged.append(Slot(tokens: candidate.tokens, score: score, isFinished: justFinished))
    }
    return topIndices(merged.map(\.score), count: slots.count).map { merged[$0] }
  }

  /// Whether the best running beam could still beat the worst finished slot
  /// (the reference's `_check_early_stop_heuristic`).
  func mayImprove(_ slots: [Slot], bestRunning: Float, generated: Int) -> Bool {
    let options = run.options
    let length = options.earlyStopping == .never && options.lengthPenalty > 0 ? options.maxNewTokens : generated
    let best = bestRunning / Float(pow(Double(length), Double(options.lengthPenalty)))
    let worst = slots.map(\.score).min() ?? Self.sentinel
    return slots.contains { best > ($0.isFinished ? worst : Self.sentinel) }
  }
}

/// Indices of the `count` largest values, best first; ties keep the lower index first.
func topIndices(_ values: [Float], count: Int) -> [Int] {
  var best: [Int] = []
  best.reserveCapacity(count + 1)
  for (index, value) in values.enumerated() {
    if best.count == count, !(value > values[best[best.count - 1]]) { continue }
    var position = best.count
    while position > 0, value > values[best[position - 1]] { position -= 1 }
    best.insert(index, at: position)
    if best.count > count { best.removeLast() }
  }
  return best
}
