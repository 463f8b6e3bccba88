import Foundation
import TensorCore
import TextTasks

/// `tessera score`: metrics of a hypothesis file against a reference file.
enum ScoreCommand {
  static let command = Command(
    path: ["score"], summary: "Score hypotheses against references: BLEU, chrF, ROUGE, exact match",
    discussion: """
      Both files are plain UTF-8 text, one segment a line, in the same order. BLEU and chrF are
      corpus scores as sacreBLEU computes them by default (0–100); ROUGE-1/2/L are the mean
      per-line F1 of rouge-score (0–1); EM is the fraction of lines equal after trimming spaces.

      EXAMPLES:
        tessera score --hyp out/test.hyp --ref data/test.ref
        tessera score --hyp hyp.txt --ref ref.txt --metrics rouge --stem --json scores.json
      """,
    options: [
      .value("--hyp", "FILE", "Hypotheses, one a line"),
      .value("--ref", "FILE", "References, one a line"),
      .value("--metrics", "LIST", "Comma-separated: bleu, chrf, rouge, em", default: "bleu,chrf,rouge,em"),
      .flag("--stem", "Porter-stem words for ROUGE (rouge-score's use_stemmer)"),
      .value("--json", "FILE", "Also write the scores as JSON"),
    ]
  ) { arguments in
    let hypothesisURL = URL(fileURLWithPath: try arguments.require("--hyp"))
    let referenceURL = URL(fileURLWithPath: try arguments.require("--ref"))
    let metrics: [TextMetric]
    do {
      metrics = try TextMetric.parseList(arguments.list("--metrics") ?? [])
    } catch let error as MetricError {
      throw UsageError(error.description)
    }
    guard !metrics.isEmpty else { throw UsageError("--metrics needs at least one of bleu, chrf, rouge, em") }
    let hypotheses = try SegmentFile.readLines(hypothesisURL)
    let references = try SegmentFile.readLines(referenceURL)
    guard hypotheses.count == references.count else {
      throw LineCountMismatch(
        hypothesisFile: hypothesisURL.path, hypotheses: hypotheses.count, referenceFile: referenceURL.path, references: references.count)
    }
    let values = try Metrics.compute(metrics, hypotheses: hypotheses, references: references, rougeStemming: arguments.has("--stem"))
    print("segments  \(hypotheses.count)")
    print(Metrics.table(values))
    if let path = arguments.string("--json") {
      let report = ScoreReport(
        hypotheses: hypothesisURL.path, references: referenceURL.path, segments: hypotheses.count,
        rougeStemming: arguments.has("--stem"), metrics: values)
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      encoder.keyEncodingStrategy = .convertToSnakeCase
      try AtomicFile.write(try encoder.encode(report) + Data("\n".utf8), to: URL(fileURLWithPath: path))
    }
  }

  struct LineCountMismatch: Error, CustomStringConvertible {
    let hypothesisFile: String
    let hypotheses: Int
    let referenceFile: String
    let references: Int

    var description: String {
      "line counts differ: \(hypothesisFile) has \(hypotheses) lines, \(referenceFile) has \(references)"
    }
  }

  struct ScoreReport: Codable {
    let hypotheses: String
    let references: String
    let segments: Int
    let rougeStemming: Bool
    let metrics: [MetricValue]
  }
}
