/// The reference's logit processors that greedy and beam search use, in its
/// order: repetition penalty, no repeated n-gram, minimum new tokens, forced
/// first token, forced last token.
struct LogitRules {
  let eos: Int
  let minNewTokens: Int
  let maxNewTokens: Int
  let forcedBOS: Int?
  let forcedEOS: Int?
  var noRepeatNgramSize = 0
  var repetitionPenalty: Float = 1

  /// Edits one row of scores (logits or log-probabilities) before the next
  /// token after `prefix` (decoder start first, then the tokens generated so
  /// far; every id inside the vocabulary) is chosen.
  func apply(to row: UnsafeMutableBufferPointer<Float>, prefix: [Int]) {
    let generated = prefix.count - 1
    if repetitionPenalty != 1 {
      for token in Set(prefix) {
        row[token] = row[token] < 0 ? row[token] * repetitionPenalty : row[token] / repetitionPenalty
      }
    }
    if noRepeatNgramSize > 0 {
      for token in bannedByNgrams(prefix) { row[token] = -.infinity }
    }
    if generated < minNewTokens { row[eos] = -.infinity }
    if let forcedBOS, generated == 0 { force(forcedBOS, in: row) }
    if let forcedEOS, generated == maxNewTokens - 1 { force(forcedEOS, in: row) }
  }

  /// Tokens that would complete an n-gram already in `prefix` (the decoder
  /// start token counts, as in the reference).
  func bannedByNgrams(_ prefix: [Int]) -> [Int] {
    let n = noRepeatNgramSize
    guard prefix.count + 1 >= n else { return [] }
    let tail = prefix[(prefix.count - n + 1)...]
    var banned: [Int] = []
    for start in 0..<(prefix.count - n + 1) where prefix[start..<(start + n - 1)].elementsEqual(tail) {
      banned.append(prefix[start + n - 1])
    }
    return banned
  }

  private func force(_ token: Int, in row: UnsafeMutableBufferPointer<Float>) {
    row.update(repeating: -.infinity)
    row[token] = 0
  }
}
