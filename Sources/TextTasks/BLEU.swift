import Foundation

/// Corpus BLEU and its sufficient statistics, as sacreBLEU reports them.
public struct BLEUScore: Sendable, Equatable, Codable {
  /// BLEU on sacreBLEU's 0–100 scale.
  public let score: Double
  /// Matched n-grams per order (1…4), clipped by the reference counts.
  public let counts: [Int]
  /// Hypothesis n-grams per order.
  public let totals: [Int]
  /// Modified precisions per order in percent (after smoothing).
  public let precisions: [Double]
  public let brevityPenalty: Double
  public let hypothesisLength: Int
  public let referenceLength: Int
}

/// sacreBLEU's default corpus BLEU (version 2.x): `13a` tokenisation, mixed
/// case, n-grams up to 4, brevity penalty, `exp` smoothing (each order with no
/// match gets precision 100 / (2^k · total), k counting such orders), no
/// effective order: an order with no hypothesis n-grams at all scores zero.
/// One reference per segment.
enum BLEU {
  static let maxOrder = 4

  static func corpus(hypotheses: [String], references: [String]) -> BLEUScore {
    var correct = [Int](repeating: 0, count: maxOrder)
    var total = [Int](repeating: 0, count: maxOrder)
    var hypothesisLength = 0
    var referenceLength = 0
    for (hypothesis, reference) in zip(hypotheses, references) {
      let hypothesisTokens = Tokenizer13a.tokenize(hypothesis)
      let referenceTokens = Tokenizer13a.tokenize(reference)
      hypothesisLength += hypothesisTokens.count
      referenceLength += referenceTokens.count
      let referenceCounts = ngramCounts(referenceTokens)
      for (ngram, count) in ngramCounts(hypothesisTokens) {
        total[ngram.order - 1] += count
        if let available = referenceCounts[ngram] { correct[ngram.order - 1] += min(count, available) }
      }
    }
    return score(correct: correct, total: total, hypothesisLength: hypothesisLength, referenceLength: referenceLength)
  }

  /// The score from summed statistics (sacreBLEU's `compute_bleu`).
  static func score(correct: [Int], total: [Int], hypothesisLength: Int, referenceLength: Int) -> BLEUScore {
    var brevityPenalty = 1.0
    if hypothesisLength < referenceLength {
      brevityPenalty = hypothesisLength > 0 ? exp(1 - Double(referenceLength) / Double(hypothesisLength)) : 0
    }
    var precisions = [Double](repeating: 0, count: maxOrder)
    func result(_ score: Double) -> BLEUScore {
      BLEUScore(
        score: score, counts: correct, totals: total, precisions: precisions, brevityPenalty: brevityPenalty,
        hypothesisLength: hypothesisLength, referenceLength: referenceLength)
    }
    guard correct.contains(where: { $0 > 0 }) else { return result(0) }
    var smoothing = 1.0
    for n in 0..<maxOrder {
      if total[n] == 0 { break }
      if correct[n] == 0 {
        smoothing *= 2
        precisions[n] = 100 / (smoothing * Double(total[n]))
      } else {
        precisions[n] = 100 * Double(correct[n]) / Double(total[n])
      }
    }
    // sacreBLEU floors log(0) at -9999999999, which makes the score 0.
    let logSum = precisions.reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
    return result(brevityPenalty * exp(logSum / Double(maxOrder)))
  }

  /// An n-gram: its tokens joined by spaces (tokens hold no whitespace), as code points.
  struct NGram: Hashable {
    let codePoints: [UInt32]
    let order: Int
  }

  static func ngramCounts(_ tokens: [[UInt32]]) -> [NGram: Int] {
    var counts: [NGram: Int] = [:]
    for order in 1...maxOrder where tokens.count >= order {
      for start in 0...(tokens.count - order) {
        var key = tokens[start]
        for token in tokens[(start + 1)..<(start + order)] {
          key.append(0x20)
          key += token
        }
        counts[NGram(codePoints: key, order: order), default: 0] += 1
      }
    }
    return counts
  }
}

/// sacreBLEU's `13a` tokenizer (mteval-v13a): unescapes a few HTML entities,
/// splits off punctuation and symbols, and splits `.`/`,` except between digits.
enum Tokenizer13a {
  static func tokenize(_ text: String) -> [[UInt32]] {
    var line = PythonText.rstrip(PythonText.codePoints(text))
    line = PythonText.replace(line, "<skipped>", "")
    line = PythonText.replace(line, "-\n", "")
    line = PythonText.replace(line, "\n", " ")
    if line.contains(0x26) {  // '&'
      line = PythonText.replace(line, "&quot;", "\"")
      line = PythonText.replace(line, "&amp;", "&")
      line = PythonText.replace(line, "&lt;", "<")
      line = PythonText.replace(line, "&gt;", ">")
    }
    line = [0x20] + line + [0x20]
    // 1. Symbols and most ASCII punctuation become separate tokens.
    var spaced: [UInt32] = []
    spaced.reserveCapacity(line.count * 2)
    for c in line {
      if isSplitSymbol(c) {
        spaced += [0x20, c, 0x20]
      } else {
        spaced.append(c)
      }
    }
    // 2–4. The three two-character rules, each one left-to-right pass with
    // non-overlapping matches, as Python's `re.sub` applies them.
    let isDigit: (UInt32) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
    let isPeriodOrComma: (UInt32) -> Bool = { $0 == 0x2E || $0 == 0x2C }
    spaced = rewritePairs(spaced, first: { !isDigit($0) }, second: isPeriodOrComma) { a, b in [a, 0x20, b, 0x20] }
    spaced = rewritePairs(spaced, first: isPeriodOrComma, second: { !isDigit($0) }) { a, b in [0x20, a, 0x20, b] }
    spaced = rewritePairs(spaced, first: isDigit, second: { $0 == 0x2D }) { a, b in [a, 0x20, b, 0x20] }
    return PythonText.split(spaced)
  }

  /// The class `[\{-\~\[-\` -\&\(-\+\:-\@\/]` of the first 13a rule.
  static func isSplitSymbol(_ c: UInt32) -> Bool {
    switch c {
    case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F: return true
    default: return false
    }
  }

  /// Replaces each non-overlapping pair (x, y) with first(x) and second(y),
  /// scanning left to right like `re.sub` with a two-character pattern.
  static func rewritePairs(
    _ text: [UInt32], first: (UInt32) -> Bool, second: (UInt32) -> Bool, replacement: (UInt32, UInt32) -> [UInt32]
  ) -> [UInt32] {
    var out: [UInt32] = []
    out.reserveCapacity(text.count + text.count / 4)
    var i = 0
    while i < text.count {
      if i + 1 < text.count && first(text[i]) && second(text[i + 1]) {
        out += replacement(text[i], text[i + 1])
        i += 2
      } else {
        out.append(text[i])
        i += 1
      }
    }
    return out
  }
}
