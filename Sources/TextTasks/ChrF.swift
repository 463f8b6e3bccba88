/// sacreBLEU's default chrF (chrF2, version 2.x): character n-grams of orders
/// 1…6 over the text with all whitespace removed, no word n-grams, β = 2,
/// case-sensitive. Statistics are summed over the corpus; precision and recall
/// are averaged over the orders where both hypothesis and reference have
/// n-grams (the "effective order"), then combined into F-β on a 0–100 scale.
enum ChrF {
  static let charOrder = 6
  static let beta = 2.0

  static func corpus(hypotheses: [String], references: [String]) -> Double {
    // Per order: hypothesis n-grams, reference n-grams, matches.
    var stats = [(hypothesis: Int, reference: Int, match: Int)](repeating: (0, 0, 0), count: charOrder)
    for (hypothesis, reference) in zip(hypotheses, references) {
      let hypothesisText = PythonText.split(PythonText.codePoints(hypothesis)).flatMap { $0 }
      let referenceText = PythonText.split(PythonText.codePoints(reference)).flatMap { $0 }
      for order in 1...charOrder {
        let hypothesisCounts = ngramCounts(hypothesisText, order: order)
        let referenceCounts = ngramCounts(referenceText, order: order)
        var hypothesisTotal = 0
        var matches = 0
        for (ngram, count) in hypothesisCounts {
          hypothesisTotal += count
          if let available = referenceCounts[ngram] { matches += min(count, available) }
        }
        // sacreBLEU counts hypothesis n-grams only when the reference has some of this order.
        stats[order - 1].hypothesis += referenceCounts.isEmpty ? 0 : hypothesisTotal
        stats[order - 1].reference += referenceCounts.values.reduce(0, +)
        stats[order - 1].match += matches
      }
    }
    var averagePrecision = 0.0
    var averageRecall = 0.0
    var effectiveOrder = 0
    for (hypothesis, reference, match) in stats where hypothesis > 0 && reference > 0 {
      averagePrecision += Double(match) / Double(hypothesis)
      averageRecall += Double(match) / Double(reference)
      effectiveOrder += 1
    }
    guard effectiveOrder > 0 else { return 0 }
    averagePrecision /= Double(effectiveOrder)
    averageRecall /= Double(effectiveOrder)
    guard averagePrecision + averageRecall > 0 else { return 0 }
    let factor = beta * beta
    return 100 * (1 + factor) * averagePrecision * averageRecall / (factor * averagePrecision + averageRecall)
  }

  static func ngramCounts(_ text: [UInt32], order: Int) -> [ArraySlice<UInt32>: Int] {
    var counts: [ArraySlice<UInt32>: Int] = [:]
    guard text.count >= order else { return counts }
    for start in 0...(text.count - order) { counts[text[start..<(start + order)], default: 0] += 1 }
    return counts
  }
}
