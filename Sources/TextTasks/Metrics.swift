import Foundation

/// Quality metrics of generated text against references, one reference per
/// segment. Scales follow the reference tools: BLEU and chrF 0–100 (sacreBLEU),
/// ROUGE, exact match and token accuracy 0–1.
public enum Metrics {
  /// Corpus BLEU exactly as `sacrebleu.corpus_bleu(hyps, [refs])` with defaults.
  public static func bleu(hypotheses: [String], references: [String]) throws -> BLEUScore {
    try checkCounts(hypotheses.count, references.count)
    return BLEU.corpus(hypotheses: hypotheses, references: references)
  }

  /// Corpus chrF exactly as `sacrebleu.corpus_chrf(hyps, [refs])` with defaults (chrF2).
  public static func chrF(hypotheses: [String], references: [String]) throws -> Double {
    try checkCounts(hypotheses.count, references.count)
    return ChrF.corpus(hypotheses: hypotheses, references: references)
  }

  /// ROUGE-1/2/L of one pair, as `RougeScorer(['rouge1','rouge2','rougeL'],
  /// use_stemmer:).score(reference, hypothesis)`.
  public static func rouge(hypothesis: String, reference: String, useStemmer: Bool = false) -> RougeScores {
    Rouge.score(hypothesis: hypothesis, reference: reference, useStemmer: useStemmer)
  }

  /// Per-pair ROUGE and its corpus mean F1.
  public static func rouge(hypotheses: [String], references: [String], useStemmer: Bool = false) throws -> CorpusRouge {
    try checkCounts(hypotheses.count, references.count)
    let segments = zip(hypotheses, references).map { Rouge.score(hypothesis: $0, reference: $1, useStemmer: useStemmer) }
    func mean(_ f1: (RougeScores) -> Double) -> Double {
      segments.isEmpty ? 0 : segments.reduce(0) { $0 + f1($1) } / Double(segments.count)
    }
    return CorpusRouge(rouge1: mean(\.rouge1.f1), rouge2: mean(\.rouge2.f1), rougeL: mean(\.rougeL.f1), segments: segments)
  }

  /// The fraction of segments equal to their reference (after trimming
  /// surrounding whitespace when `trimWhitespace`). 0 for no segments.
  public static func exactMatch(hypotheses: [String], references: [String], trimWhitespace: Bool = true) throws -> Double {
    try checkCounts(hypotheses.count, references.count)
    guard !hypotheses.isEmpty else { return 0 }
    let matches = zip(hypotheses, references).filter { hypothesis, reference in
      trimWhitespace
        ? hypothesis.trimmingCharacters(in: .whitespacesAndNewlines) == reference.trimmingCharacters(in: .whitespacesAndNewlines)
        : hypothesis == reference
    }.count
    return Double(matches) / Double(hypotheses.count)
  }

  /// Position-wise token accuracy of generated id sequences: matching
  /// positions over, per segment, the longer of the two lengths, so missing and
  /// extra tokens both count as errors. 0 when there are no tokens.
  public static func tokenAccuracy(predictions: [[Int]], references: [[Int]]) throws -> Double {
    try checkCounts(predictions.count, references.count)
    var correct = 0
    var total = 0
    for (prediction, reference) in zip(predictions, references) {
      correct += zip(prediction, reference).filter { $0 == $1 }.count
      total += max(prediction.count, reference.count)
    }
    return total == 0 ? 0 : Double(correct) / Double(total)
  }

  /// Teacher-forced token accuracy: flat predicted ids (argmax of the logits)
  /// against flat labels, skipping positions whose label is `ignoreIndex`.
  public static func tokenAccuracy(predicted: [Int], labels: [Int], ignoreIndex: Int = -100) throws -> Double {
    try checkCounts(predicted.count, labels.count)
    var correct = 0
    var total = 0
    for (prediction, label) in zip(predicted, labels) where label != ignoreIndex {
      total += 1
      if prediction == label { correct += 1 }
    }
    return total == 0 ? 0 : Double(correct) / Double(total)
  }

  private static func checkCounts(_ hypotheses: Int, _ references: Int) throws {
    guard hypotheses == references else { throw MetricError.countMismatch(hypotheses: hypotheses, references: references) }
  }
}

/// Mistakes in calling a metric.
public enum MetricError: Error, Equatable, CustomStringConvertible {
  case countMismatch(hypotheses: Int, references: Int)
  case unknownMetric(String)

  public var description: String {
    switch self {
    case .countMismatch(let hypotheses, let references):
      return "metrics need one reference per hypothesis (\(hypotheses) hypotheses, \(references) references)"
    case .unknownMetric(let name):
      return "unknown metric '\(name)'; known: " + TextMetric.allCases.map(\.rawValue).joined(separator: ", ")
    }
  }
}

/// Teacher-forced loss accumulated over batches: summed negative
/// log-likelihood (nats) and the number of tokens it covers.
public struct TokenLoss: Sendable, Equatable, Codable {
  public var summedNLL: Double
  public var tokenCount: Int

  public init(summedNLL: Double = 0, tokenCount: Int = 0) {
    self.summedNLL = summedNLL
    self.tokenCount = tokenCount
  }

  /// Adds one batch: its summed NLL and its real (non-ignored) label count.
  public mutating func add(summedNLL: Double, tokens: Int) {
    self.summedNLL += summedNLL
    tokenCount += tokens
  }

  /// Mean NLL per token (nats); NaN before any token.
  public var meanLoss: Double { tokenCount == 0 ? .nan : summedNLL / Double(tokenCount) }

  /// exp(mean NLL).
  public var perplexity: Double { exp(meanLoss) }
}
