import Foundation

extension ComparisonReport {
  /// The stacking section of `report.md` (nil without transformed or
  /// quantized rows): those rows and the assemblies they stack on, by bytes
  /// ratio, largest first, then the most compressed model at each of the
  /// quality shares users budget for.
  static func stackingLines(_ results: ComparisonResults) -> [String]? {
    let stackedKinds = [TransformRows.quantizedKind, TransformRows.transformedKind]
    guard results.rows.contains(where: { stackedKinds.contains($0.kind) && $0.isMeasured }) else { return nil }
    let metric = results.settings.primaryMetric
    let rows = results.rows.filter { ($0.isTeacher || $0.kind == AssemblyCandidate.kind || stackedKinds.contains($0.kind)) && $0.isMeasured }
      .sorted { ($0.cost!.bytesRatio ?? 0) > ($1.cost!.bytesRatio ?? 0) }
    var lines = [
      "Transform chains and quantization stacked on the teacher and on each assembly, most compressed first.", "",
      "| model | bytes× | total× | layer× | speedup | \(metric) | vs teacher | loss |", "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows {
      let (cost, quality) = (row.cost!, row.quality!)
      lines.append("| " + [
        row.label, cost.bytesRatio.map { format($0, "%.2f×") } ?? "—", format(cost.totalParameterRatio, "%.2f×"),
        format(cost.layerParameterRatio, "%.2f×"), cost.latencySpeedup.map { format($0, "%.2f×") } ?? "—",
        formatMetric(quality.metric, name: metric), quality.relativeToTeacher.map { format($0 * 100, "%.1f%%") } ?? "—",
        format(quality.loss, "%.3f"),
      ].joined(separator: " | ") + " |")
    }
    lines.append("")
    for share in [0.99, 0.95, 0.9, 0.8] {
      let keeping = rows.filter { ($0.quality!.relativeToTeacher ?? 0) >= share }
      guard let best = keeping.max(by: { ($0.cost!.bytesRatio ?? 0) < ($1.cost!.bytesRatio ?? 0) }) else {
        lines.append("- Keeping ≥ \(format(share * 100, "%.0f"))% of the teacher's \(metric): no model.")
        continue
      }
      lines.append(
        "- Keeping ≥ \(format(share * 100, "%.0f"))% of the teacher's \(metric): \(best.label), "
          + "\(best.cost!.bytesRatio.map { format($0, "%.2f") } ?? "?")× fewer bytes "
          + "(\(best.quality!.relativeToTeacher.map { format($0 * 100, "%.1f") } ?? "?")%).")
    }
    return lines
  }
}
