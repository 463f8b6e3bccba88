/// Precision, recall and F1 of one ROUGE variant for one pair (0…1).
public struct RougeScore: Sendable, Equatable, Codable {
  public let precision: Double
  public let recall: Double
  public let f1: Double

  init(precision: Double, recall: Double) {
    self.precision = precision
    self.recall = recall
    f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
  }
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one hypothesis against one reference.
public struct RougeScores: Sendable, Equatable, Codable {
  public let rouge1: RougeScore
  public let rouge2: RougeScore
  public let rougeL: RougeScore
}

/// Corpus ROUGE: the mean over segments of each pair's F1, which is what
/// averaging `rouge_score.RougeScorer.score` results gives (rouge-score's own
/// `BootstrapAggregator` reports the same mean as its mid value).
public struct CorpusRouge: Sendable, Equatable, Codable {
  public let rouge1: Double
  public let rouge2: Double
  public let rougeL: Double
  public let segments: [RougeScores]
}

/// `rouge-score` (Google's Python package, 0.1.2) with its default tokenizer:
/// lowercase, every character outside `[a-z0-9]` becomes a separator, and with
/// stemming the NLTK Porter stemmer is applied to tokens longer than 3
/// characters. ROUGE-N counts clipped n-gram overlaps; ROUGE-L uses the longest
/// common subsequence. An empty side scores 0.
enum Rouge {
  static func score(hypothesis: String, reference: String, useStemmer: Bool) -> RougeScores {
    let hypothesisTokens = tokenize(hypothesis, useStemmer: useStemmer)
    let referenceTokens = tokenize(reference, useStemmer: useStemmer)
    return RougeScores(
      rouge1: ngramScore(hypothesisTokens, referenceTokens, order: 1),
      rouge2: ngramScore(hypothesisTokens, referenceTokens, order: 2),
      rougeL: lcsScore(hypothesisTokens, referenceTokens))
  }

  /// rouge-score's `tokenize.tokenize`.
  static func tokenize(_ text: String, useStemmer: Bool) -> [String] {
    var tokens: [String] = []
    var token = String.UnicodeScalarView()
    func flush() {
      guard !token.isEmpty else { return }
      let word = String(token)
      tokens.append(useStemmer && word.utf8.count > 3 ? PorterStemmer.stem(word) : word)
      token = String.UnicodeScalarView()
    }
    for scalar in text.unicodeScalars {
      if let kept = lowercasedAlphanumeric(scalar) {
        token.append(kept)
        // "İ" lowers to "i" plus a combining dot, which ends the token.
        if scalar.value == 0x130 { flush() }
      } else {
        flush()
      }
    }
    flush()
    return tokens.filter { !$0.isEmpty }
  }

  /// The `[a-z0-9]` character Python's `str.lower()` turns `scalar` into, if
  /// any. Besides ASCII, only U+0130 (İ → i + combining dot, whose dot then
  /// separates) and U+212A (Kelvin sign → k) lower into that range.
  static func lowercasedAlphanumeric(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
    switch scalar.value {
    case 0x61...0x7A, 0x30...0x39: return scalar
    case 0x41...0x5A: return Unicode.Scalar(scalar.value + 0x20)
    case 0x130: return "i"
    case 0x212A: return "k"
    default: return nil
    }
  }

  static func ngramScore(_ hypothesis: [String], _ reference: [String], order: Int) -> RougeScore {
    let hypothesisCounts = ngrams(hypothesis, order: order)
    let referenceCounts = ngrams(reference, order: order)
    var overlap = 0
    for (ngram, count) in referenceCounts { overlap += min(count, hypothesisCounts[ngram] ?? 0) }
    let hypothesisTotal = hypothesisCounts.values.reduce(0, +)
    let referenceTotal = referenceCounts.values.reduce(0, +)
    return RougeScore(
      precision: Double(overlap) / Double(max(hypothesisTotal, 1)), recall: Double(overlap) / Double(max(referenceTotal, 1)))
  }

  static func ngrams(_ tokens: [String], order: Int) -> [ArraySlice<String>: Int] {
    var counts: [ArraySlice<String>: Int] = [:]
    guard tokens.count >= order else { return counts }
    for start in 0...(tokens.count - order) { counts[tokens[start..<(start + order)], default: 0] += 1 }
    return counts
  }

  static func lcsScore(_ hypothesis: [String], _ reference: [String]) -> RougeScore {
    guard !hypothesis.isEmpty, !reference.isEmpty else { return RougeScore(precision: 0, recall: 0) }
    let length = Double(lcsLength(hypothesis, reference))
    return RougeScore(precision: length / Double(hypothesis.count), recall: length / Double(reference.count))
  }

  /// Length of the longest common subsequence, one DP row at a time.
  static func lcsLength(_ a: [String], _ b: [String]) -> Int {
    var previous = [Int](repeating: 0, count: b.count + 1)
    var current = previous
    for i in 1...a.count {
      for j in 1...b.count {
        current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}
