import Foundation

/// The text metrics `tessera score` and `tessera evaluate` can report.
public enum TextMetric: String, CaseIterable, Sendable, Codable {
  case bleu, chrf, rouge, em

  /// Parses a comma-separated list such as `bleu,chrf,rouge,em`.
  public static func parseList(_ names: [String]) throws -> [TextMetric] {
    try names.map { name in
      guard let metric = TextMetric(rawValue: name.lowercased()) else { throw MetricError.unknownMetric(name) }
      return metric
    }
  }
}

/// One reported number: `BLEU 34.12`.
public struct MetricValue: Sendable, Equatable, Codable {
  /// Display name: BLEU, chrF, ROUGE-1, ROUGE-2, ROUGE-L, EM.
  public let name: String
  public let value: Double

  public init(name: String, value: Double) {
    self.name = name
    self.value = value
  }
}

extension Metrics {
  /// The requested metrics, in order; `rouge` gives ROUGE-1, ROUGE-2 and ROUGE-L.
  public static func compute(
    _ metrics: [TextMetric], hypotheses: [String], references: [String], rougeStemming: Bool = false
  ) throws -> [MetricValue] {
    var values: [MetricValue] = []
    for metric in metrics {
      switch metric {
      case .bleu:
        values.append(MetricValue(name: "BLEU", value: try bleu(hypotheses: hypotheses, references: references).score))
      case .chrf:
        values.append(MetricValue(name: "chrF", value: try chrF(hypotheses: hypotheses, references: references)))
      case .rouge:
        let rouge = try rouge(hypotheses: hypotheses, references: references, useStemmer: rougeStemming)
        values += [
          MetricValue(name: "ROUGE-1", value: rouge.rouge1), MetricValue(name: "ROUGE-2", value: rouge.rouge2),
          MetricValue(name: "ROUGE-L", value: rouge.rougeL),
        ]
      case .em:
        values.append(MetricValue(name: "EM", value: try exactMatch(hypotheses: hypotheses, references: references)))
      }
    }
    return values
  }

  /// A two-column plain-text table: BLEU/chrF with 2 decimals, the rest with 4.
  public static func table(_ values: [MetricValue]) -> String {
    let width = max(6, (values.map(\.name.count).max() ?? 0) + 2)
    var lines = ["metric".padding(toLength: width, withPad: " ", startingAt: 0) + "score"]
    for value in values {
      let digits = value.name == "BLEU" || value.name == "chrF" ? 2 : 4
      lines.append(value.name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%.\(digits)f", value.value))
    }
    return lines.joined(separator: "\n")
  }
}
