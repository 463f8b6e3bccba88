import Foundation
import TensorCore

/// Writes a comparison as `report.md`, `results.csv`, `results.json` and
/// `plot.svg`, and renders its table for the terminal.
public enum ComparisonReport {
  public static let markdownFileName = "report.md"
  public static let csvFileName = "results.csv"
  public static let jsonFileName = "results.json"
  public static let plotFileName = "plot.svg"
  /// Where `--save-models` puts the assemblies, inside the report folder.
  public static let modelsFolderName = "models"

  /// Replaces `folder` with a report folder holding the four files
  /// (``ReportFolder``: an existing folder must be a Tessera report, and it
  /// is replaced whole, never left mixing two reports).
  public static func write(_ results: ComparisonResults, to folder: URL) throws {
    try ReportFolder.replace(folder) { try writeFiles(results, into: $0) }
  }

  /// Writes the four files into the existing `folder`, each atomically.
  static func writeFiles(_ results: ComparisonResults, into folder: URL) throws {
    try AtomicFile.write(try results.jsonData(), to: folder.appendingPathComponent(jsonFileName))
    try AtomicFile.write(Data(csv(results).utf8), to: folder.appendingPathComponent(csvFileName))
    try AtomicFile.write(Data(ComparisonPlot.svg(results).utf8), to: folder.appendingPathComponent(plotFileName))
    try AtomicFile.write(Data(markdown(results).utf8), to: folder.appendingPathComponent(markdownFileName))
  }

  // MARK: Table

  /// Column titles and cells of the summary table (the terminal's and the report's).
  static func tableCells(_ results: ComparisonResults, markdown: Bool) -> (header: [String], rows: [[String]]) {
    let metric = results.settings.primaryMetric
    var header = ["model", "enc+dec", "layer×", "total×", "bytes×", "speedup", metric, "vs teacher", "loss", "latency ms", "tok/s", "params"]
    if markdown { header += ["tokens", "ms/token", "FLOPs/token", "ex/s", "plan"] }
    header.append("note")
    let rows = results.rows.map { row -> [String] in
      var cells = [row.label]
      if let cost = row.cost {
        cells += [
          "\(cost.encoderDepth)+\(cost.decoderDepth)", format(cost.layerParameterRatio, "%.2f×"),
          format(cost.totalParameterRatio, "%.2f×"), cost.bytesRatio.map { format($0, "%.2f×") } ?? "—",
          cost.latencySpeedup.map { format($0, "%.2f×") } ?? "—",
        ]
      } else {
        cells += ["—", "—", "—", "—", "—"]
      }
      if let quality = row.quality {
        cells += [
          formatMetric(quality.metric, name: metric), quality.relativeToTeacher.map { format($0 * 100, "%.1f%%") } ?? "—",
          format(quality.loss, "%.3f"),
        ]
      } else {
        cells += ["—", "—", "—"]
      }
      cells += row.timing.map { [format($0.latencyMilliseconds, "%.1f"), format($0.generatedTokensPerSecond, "%.0f")] } ?? ["—", "—"]
      cells.append(row.cost.map { compact(Double($0.totalParameters)) } ?? "—")
      if markdown {
        cells += row.timing.map { [format($0.latencyGeneratedTokens, "%.1f"), format($0.millisecondsPerToken, "%.2f")] } ?? ["—", "—"]
        cells += [
          row.cost.map { compact($0.estimatedDecodingFLOPsPerToken) } ?? "—",
          row.timing.map { format($0.examplesPerSecond, "%.1f") } ?? "—",
          row.plan.map { "`\($0)`" } ?? "—",
        ]
      }
      cells.append(note(row))
      return cells
    }
    return (header, rows)
  }

  /// `skipped`, `same as size-first 2×`, and the Pareto-front marks.
  static func note(_ row: ComparisonRow) -> String {
    if row.skipped != nil { return "skipped" }
    var parts: [String] = []
    if let same = row.sameModelAs { parts.append("= \(same)") }
    if row.onSpeedFront { parts.append("◆speed") }
    if row.onSizeFront { parts.append("◆size") }
    return parts.joined(separator: " ")
  }

  /// The summary table as aligned plain text, with the skipped rows' reasons below.
  public static func table(_ results: ComparisonResults) -> String {
    let (header, rows) = tableCells(results, markdown: false)
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { column, cell in
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return column == 0 || column == cells.count - 1 ? cell + padding : padding + cell
      }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    var lines = [line(header), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
    lines += rows.map(line)
    lines += skippedLines(results).map { "  " + $0 }
    lines.append("◆speed / ◆size: on the Pareto front of quality against measured speedup / stored weight bytes")
    return lines.joined(separator: "\n")
  }

  /// One line per distinct reason: `size-first 6×, pareto 6×: ratio 6 cannot be reached …`.
  static func skippedLines(_ results: ComparisonResults) -> [String] {
    var reasons: [String] = [], labels: [String: [String]] = [:]
    for row in results.rows {
      guard let reason = row.skipped else { continue }
      if labels[reason] == nil { reasons.append(reason) }
      labels[reason, default: []].append(row.label)
    }
    return reasons.map { "skipped \(labels[$0]!.joined(separator: ", ")): \($0)" }
  }

  // MARK: Markdown

  /// `report.md`: settings, teacher, the table, the best of each kind per
  /// ratio, the training-cost ledger, how to read the ratios, and the plot.
  public static func markdown(_ results: ComparisonResults) -> String {
    let settings = results.settings, metric = settings.primaryMetric
    let teacher = results.teacher
    var lines = [
      "# Tessera comparison: \(teacher.modelType) teacher on \(results.data.name)", "",
      "- **Data:** \(results.data.name), \(results.data.examples) examples (median \(results.data.medianSourceTokens) "
        + "source and \(results.data.medianTargetTokens) target tokens).",
      "- **Sweep:** layer-parameter ratios \(settings.ratios.map(formatRatio).joined(separator: ", ")); strategies "
        + "\(settings.strategies.map(\.rawValue).joined(separator: ", "))"
        + "; kinds of model: " + kinds(results.rows).joined(separator: ", ") + ".",
      "- **Measured:** quality by \(metric) (all metrics: "
        + ComparisonSettings.metricNames(settings.metrics).joined(separator: ", ")
        + ") and teacher-forced loss; latency = mean batch-1 greedy generation of \(settings.latencyExamples) examples "
        + "(tokens: mean generated in those runs); "
        + "throughput = greedy generation in batches of \(settings.throughputBatch). BLAS \(results.environment.blas), "
        + "\(results.environment.threads) threads.",
      "- **Teacher:** \(teacher.modelType), \(teacher.encoderDepth)+\(teacher.decoderDepth) layers, "
        + "\(compact(Double(teacher.parameters))) parameters (\(compact(Double(teacher.layerParameters))) in layers)"
        + (teacher.path.map { ", `\($0)`" } ?? "") + teacherLine(results) + ".",
      "- **Registry:** `\(results.registry.path)`, \(results.registry.modules) modules; reachable layer-parameter ratios "
        + results.registry.reachableRatios.map(formatRatio).joined(separator: ", ") + ".",
      "- **Planner latency:** " + plannerLatencyLine(results.latencyProfile), "",
      "## Results", "",
    ]
    let (header, rows) = tableCells(results, markdown: true)
    lines.append("| " + header.joined(separator: " | ") + " |")
    lines.append("|" + header.indices.map { $0 == 0 || $0 == header.count - 1 || header[$0] == "plan" ? "---|" : "---:|" }.joined())
    lines += rows.map { "| " + $0.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
    lines.append("")
    lines.append(
      "◆speed / ◆size: on the Pareto front of \(metric) against measured speedup / stored weight bytes. "
        + "“= X”: the same model as row X, measured once.")
    let skipped = skippedLines(results)
    if !skipped.isEmpty { lines += [""] + skipped.map { "- " + $0 } }
    lines += ["", "## Best of each kind per ratio", ""]
    lines += bestPerRatio(results)
    if let ledger = results.ledger { lines += ["", "## Training-cost ledger", ""] + ledgerLines(ledger) }
    if let stacking = stackingLines(results) { lines += ["", "## Stacked compression", ""] + stacking }
    lines += [
      "", "## Reading the ratios", "",
      "- **Layer-parameter ratio** (the headline): teacher Transformer-layer parameters / the model's. Modules replace "
        + "layers, so this is what the requested ratio budgets: every assembly and every layer-dropped model reaches it.",
      "- **Total-parameter ratio:** the same with embeddings, output head and norms counted; they do not shrink, so it "
        + "is always smaller, and much smaller for models with large vocabularies.",
      "- **Bytes ratio:** the fp32 teacher's weight bytes / the model's as stored (4 per parameter in fp32; a "
        + "quantized row's int8 or bf16 weights and their scales as its folder keeps them): where quantization stacks on an assembly.",
      "- **Measured speedup:** teacher latency / the model's, batch 1, greedy, on this machine. Decoder layers run once "
        + "per generated token and encoder layers once per source, so removing decoder layers buys more speed than "
        + "removing the same parameters from the encoder; fixed costs (embedding, output head) cap the speedup, and a "
        + "model that generates longer or shorter outputs than the teacher is slower or faster for that reason too.",
      "- **Estimated FLOPs per generated token:** 2 × (decoder layer parameters + output head + encoder layer "
        + "parameters × source tokens per generated token, here \(results.data.medianSourceTokens)/"
        + "\(max(results.data.medianTargetTokens, 1))); attention scores are left out, so it is an estimate.",
      "", "## Plot", "", "![\(metric) against measured speedup and stored weight bytes](\(plotFileName))", "",
    ]
    return lines.joined(separator: "\n")
  }

  static func teacherLine(_ results: ComparisonResults) -> String {
    guard let row = results.teacherRow, let quality = row.quality, let timing = row.timing else { return "" }
    return "; \(results.settings.primaryMetric) \(formatMetric(quality.metric, name: results.settings.primaryMetric)), "
      + "loss \(format(quality.loss, "%.3f")), latency \(format(timing.latencyMilliseconds, "%.1f")) ms"
  }

  static func plannerLatencyLine(_ profile: ComparisonResults.LatencyProfile) -> String {
    guard let encoder = profile.encoderLayerSeconds, let decoder = profile.decoderLayerSeconds else {
      return "estimated from parameter counts (no profile)."
    }
    return "measured per teacher layer for \(profile.sourceTokens) source and \(profile.generatedTokens) generated "
      + "tokens: encoder \(format(encoder * 1000, "%.3f")) ms, decoder \(format(decoder * 1000, "%.3f")) ms; "
      + "pareto plans with these"
      + (profile.file.map { ", kept in `\($0)`" + (profile.measured.map { " (measured \($0))" } ?? "") + ", as `tessera assemble` uses" } ?? "")
      + "."
  }

  /// The kinds of `rows`, in order of first appearance.
  static func kinds(_ rows: [ComparisonRow]) -> [String] {
    var kinds: [String] = []
    for row in rows where !kinds.contains(row.kind) { kinds.append(row.kind) }
    return kinds
  }

  /// Per requested ratio (the sweep's and any baseline's): the best measured
  /// row of each kind — assembly, baseline (its label names the method),
  /// layer dropping, … — best first, each against the best of the next kind
  /// down (and the floor, the last), with the metric and its share of the teacher's.
  static func bestPerRatio(_ results: ComparisonResults) -> [String] {
    let metric = results.settings.primaryMetric
    func describe(_ row: ComparisonRow) -> String {
      let (quality, cost) = (row.quality!, row.cost!)
      let share = quality.relativeToTeacher.map { " = \(format($0 * 100, "%.1f"))% of the teacher" } ?? ""
      return "\(row.label) (\(metric) \(formatMetric(quality.metric, name: metric))\(share), loss \(format(quality.loss, "%.3f")), "
        + "\(format(cost.layerParameterRatio, "%.2f"))× layer parameters, "
        + "\(cost.latencySpeedup.map { format($0, "%.2f") } ?? "?")× speedup)"
    }
    func isBetter(_ a: ComparisonRow, _ b: ComparisonRow) -> Bool {
      a.quality!.metric != b.quality!.metric ? a.quality!.metric > b.quality!.metric : a.quality!.loss < b.quality!.loss
    }
    var lines: [String] = []
    let ratios = TrainingCostLedger.distinctSorted(results.settings.ratios + results.rows.compactMap(\.requestedRatio))
    for ratio in ratios {
      let requested = results.rows.filter { $0.requestedRatio.map(formatRatio) == formatRatio(ratio) }
      let atRatio = requested.filter(\.isMeasured)
      let kinds = self.kinds(requested)
      let best = kinds.compactMap { kind in atRatio.filter { $0.kind == kind }.min(by: isBetter) }.sorted(by: isBetter)
      var line = "- **\(formatRatio(ratio))×:** "
      guard let top = best.first else {
        lines.append(line + "nothing measured at this ratio.")
        continue
      }
      line += "best \(top.kind) \(describe(top))"
      for (upper, lower) in zip(best, best.dropFirst()) {
        let gain = upper.quality!.metric - lower.quality!.metric
        line += gain == 0 ? ", ties with" : ", beats"
        line += " the best \(lower.kind) \(describe(lower)) by \(metric) \(gain >= 0 ? "+" : "")\(formatMetric(gain, name: metric)), "
          + "loss \(format(upper.quality!.loss - lower.quality!.loss, "%+.3f"))"
      }
      let unmeasured = kinds.filter { kind in !best.contains { $0.kind == kind } }
      if !unmeasured.isEmpty { line += "; no \(unmeasured.joined(separator: " or ")) model reaches this ratio" }
      lines.append(line + ".")
    }
    return lines
  }

  // MARK: CSV

  /// `results.csv`: one header line and one line per row, full precision.
  public static func csv(_ results: ComparisonResults) -> String {
    let metricNames = ComparisonSettings.metricNames(results.settings.metrics)
    let header =
      [
        "label", "kind", "method", "requested_ratio", "skipped", "same_model_as", "plan", "encoder_depth",
        "decoder_depth", "layer_parameters", "total_parameters", "layer_parameter_ratio", "total_parameter_ratio",
        "weight_bytes", "bytes_ratio", "latency_speedup", "estimated_flops_per_token", "metric", "relative_quality", "loss",
      ] + metricNames + [
        "latency_ms", "latency_generated_tokens", "examples_per_second", "generated_tokens_per_second", "predicted_loss_increase",
        "estimated_speedup", "on_speed_front", "on_size_front",
      ]
    func text(_ value: (some CustomStringConvertible)?) -> String { value.map { "\($0)" } ?? "" }
    var lines = [header.joined(separator: ",")]
    for row in results.rows {
      let cost = row.cost, quality = row.quality, timing = row.timing
      var cells = [
        row.label, row.kind, text(row.method), text(row.requestedRatio),
        text(row.skipped), text(row.sameModelAs), text(row.plan), text(cost?.encoderDepth), text(cost?.decoderDepth),
        text(cost?.layerParameters), text(cost?.totalParameters), text(cost?.layerParameterRatio),
        text(cost?.totalParameterRatio), text(cost?.weightBytes), text(cost?.bytesRatio), text(cost?.latencySpeedup), text(cost?.estimatedDecodingFLOPsPerToken),
        text(quality?.metric), text(quality?.relativeToTeacher), text(quality?.loss),
      ]
      cells += metricNames.map { name in text(quality?.metrics.first { $0.name == name }?.value) }
      cells += [
        text(timing?.latencyMilliseconds), text(timing?.latencyGeneratedTokens), text(timing?.examplesPerSecond), text(timing?.generatedTokensPerSecond),
        text(row.predictedLossIncrease), text(row.estimatedSpeedup), text(row.onSpeedFront), text(row.onSizeFront),
      ]
      lines.append(cells.map(csvField).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A CSV field, quoted when it holds a comma, quote or line break (line
  /// breaks become spaces so every row stays one line).
  static func csvField(_ value: String) -> String {
    let flat = value.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
    guard flat.contains(where: { $0 == "," || $0 == "\"" }) else { return flat }
    return "\"" + flat.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  // MARK: Numbers

  static func format(_ value: Double, _ pattern: String) -> String {
    value.isFinite ? String(format: pattern, value) : "\(value)"
  }

  /// Metrics on a 0–100 scale (BLEU, chrF) with 2 decimals, 0–1 ones with 3.
  static func formatMetric(_ value: Double, name: String) -> String {
    format(value, name == "BLEU" || name == "chrF" ? "%.2f" : "%.3f")
  }

  /// `950`, `12.3k`, `60.5M`, `1.20G`.
  static func compact(_ value: Double) -> String {
    let magnitude = abs(value)
    switch magnitude {
    case 1e9...: return format(value / 1e9, "%.2fG")
    case 1e6...: return format(value / 1e6, "%.1fM")
    case 1e3...: return format(value / 1e3, "%.1fk")
    default: return format(value, "%.0f")
    }
  }
}
