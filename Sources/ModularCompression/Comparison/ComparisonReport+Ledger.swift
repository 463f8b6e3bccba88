import Foundation

extension ComparisonReport {
  /// Shown for a figure no file records (never a 0, which would read as free).
  static let notRecorded = "not recorded"

  /// The ledger section of `report.md`: a table with the modules row and one
  /// row per baseline method, then per method how its cost compares with the modules'.
  static func ledgerLines(_ ledger: TrainingCostLedger) -> [String] {
    let modules = ledger.modules
    func ratioList(_ ratios: [Double]) -> String { ratios.map { formatRatio($0) + "×" }.joined(separator: ", ") }
    func versus(_ value: Double?) -> String { value.map { format($0, "%.2f×") } ?? "—" }
    var lines = [
      "Steps, tokens and seconds of training spent to have a model at every ratio: one modules run (or the runs that "
        + "trained the registry) serves all ratios; each baseline method needs one run per ratio (its seconds include "
        + "making pseudo-labels).", "",
      "| training | runs | ratios | steps | tokens | seconds | seconds vs modules | steps vs modules |",
      "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    let coverage =
      switch modules.ratios.count {
      case 0: "no assembly measured"
      case 1: "1 ratio (\(ratioList(modules.ratios)))"
      default: "all \(modules.ratios.count) ratios (\(ratioList(modules.ratios)))"
      }
    lines.append(
      "| modules | " + [
        modules.runs.map(String.init) ?? notRecorded, coverage, modules.steps.map(String.init) ?? notRecorded,
        modules.tokens.map { compact(Double($0)) } ?? notRecorded, modules.seconds.map { format($0, "%.1f") } ?? notRecorded,
        "1×", "1×",
      ].joined(separator: " | ") + " |")
    for method in ledger.baselines {
      let seconds = format(method.seconds, "%.1f") + (method.labelSeconds > 0 ? " (labels \(format(method.labelSeconds, "%.1f")))" : "")
      lines.append(
        "| \(method.method) | " + [
          "\(method.runs)", ratioList(method.ratios), "\(method.steps)", compact(Double(method.tokens)), seconds,
          versus(method.secondsVersusModules), versus(method.stepsVersusModules),
        ].joined(separator: " | ") + " |")
    }
    return lines + [""] + ledgerComparisons(ledger).map { "- " + $0 }
  }

  /// The ledger for the terminal: what the modules cost and each baseline method against them.
  public static func ledgerSummary(_ ledger: TrainingCostLedger) -> [String] {
    let modules = ledger.modules
    let cost =
      modules.steps.map { steps in
        "\(steps) steps, \(compact(Double(modules.tokens ?? 0))) tokens, \(format(modules.seconds ?? 0, "%.1f")) s"
      } ?? notRecorded
    return ["training cost of the modules: \(cost)"] + (ledger.baselines.isEmpty ? [] : ledgerComparisons(ledger))
  }

  /// One sentence per baseline method: its cost as a multiple of the modules'
  /// (or why there is none); without baselines, how to add them.
  static func ledgerComparisons(_ ledger: TrainingCostLedger) -> [String] {
    let modules = ledger.modules
    guard !ledger.baselines.isEmpty else {
      return ["No baselines compared: `tessera compare --baselines DIR` adds the per-ratio students of `tessera baselines`."]
    }
    var lines: [String] = []
    let oneRun = (modules.runs ?? 1) == 1
    let theModules = oneRun ? "the modules run's" : "the \(modules.runs ?? 0) modules runs'"
    for method in ledger.baselines {
      let what = "\(method.method) at \(method.runs) ratio\(method.runs == 1 ? "" : "s")"
      // A polish run trains an assembly further: its cost comes on top of the modules', never instead.
      let onTop = method.method == BaselineMethod.polish.rawValue ? ", on top of \(oneRun ? "that run" : "those runs")" : ""
      if let seconds = method.secondsVersusModules {
        let steps = method.stepsVersusModules.map { " and \(format($0, "%.1f"))× \(oneRun ? "its" : "their") steps" } ?? ""
        lines.append("\(what) cost \(format(seconds, "%.1f"))× \(theModules) seconds\(steps)\(onTop).")
      } else {
        let missing = modules.recorded ? "seconds are 0" : "cost is \(notRecorded)"
        lines.append("\(what) cost \(format(method.seconds, "%.1f")) s; \(theModules) \(missing), so the two cannot be set side by side.")
      }
    }
    return lines
  }
}
