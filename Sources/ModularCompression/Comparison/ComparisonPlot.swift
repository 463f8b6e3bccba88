import Foundation
import NeuralLayers

/// `plot.svg`: quality against measured speedup (left) and against stored
/// weight bytes (right; 4 per parameter unless quantized). Each series (a row's method, else its kind) gets a
/// colour and marker from a small table, with defaults for kinds it does not
/// list; the teacher is a labelled star, and each panel's Pareto front
/// (higher quality with higher speedup / fewer parameters) a dashed step line.
public enum ComparisonPlot {
  struct Series: Equatable {
    let name: String
    let colour: String
    let marker: Marker
  }

  /// `pentagon`…`octagon` and `invertedTriangle`, `plus` mark the baseline methods, and
  /// `rightTriangle` (pointing right, on from an assembly) the polished assemblies.
  enum Marker { case circle, square, triangle, diamond, cross, star, invertedTriangle, plus, pentagon, hexagon, octagon, rightTriangle }

  static let width = 1000.0, height = 470.0
  /// Plot-area margins inside each panel.
  static let left = 70.0, right = 25.0, top = 60.0, bottom = 60.0

  /// Styles by series key (a method or a kind); legend name, colour, marker.
  static let styles: [String: (name: String, colour: String, marker: Marker)] = [
    ComparisonRow.teacherKind: ("teacher", "#000000", .star),
    AssemblyStrategy.sizeFirst.rawValue: ("size-first", "#1f77b4", .circle),
    AssemblyStrategy.speedFirst.rawValue: ("speed-first", "#ff7f0e", .square),
    AssemblyStrategy.pareto.rawValue: ("pareto", "#2ca02c", .triangle),
    MeasuredAssemblyCandidate.method: ("measured", "#d62728", .diamond),
    LayerDroppingCandidate.kind: ("layer dropping", "#7f7f7f", .cross),
    // Baselines (``BaselineCandidate``) by method: a shape of their own each, none an assembly's.
    BaselineMethod.scratch.rawValue: ("scratch (baseline)", "#8c6d31", .plus),
    BaselineMethod.sft.rawValue: ("sft (baseline)", "#e7298a", .invertedTriangle),
    BaselineMethod.kd.rawValue: ("kd (baseline)", "#6a3d9a", .pentagon),
    BaselineMethod.pseudoLabels.rawValue: ("pseudo-labels (baseline)", "#1b9e77", .hexagon),
    BaselineMethod.theseus.rawValue: ("theseus (baseline)", "#b15928", .octagon),
    BaselineMethod.polish.rawValue: ("polished assembly", "#ff1493", .rightTriangle),
    // Quantized copies (``TransformRows``) by scheme.
    QuantizationScheme.int8.rawValue: ("int8 (quantized)", "#17becf", .square),
    QuantizationScheme.bf16.rawValue: ("bf16 (quantized)", "#bcbd22", .triangle),
  ]
  /// Colours for series the table does not list, in order of appearance.
  static let defaultColours = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728"]

  /// The series key of a row: its method, else its kind.
  static func seriesKey(_ row: ComparisonRow) -> String {
    if let method = row.method, styles[method] != nil || styles[row.kind] == nil { return method }
    return row.kind
  }

  /// One series per key among `rows`, in order of appearance, the teacher first.
  static func seriesList(_ rows: [ComparisonRow]) -> [(key: String, series: Series)] {
    var keys: [String] = [ComparisonRow.teacherKind]
    for row in rows where !keys.contains(seriesKey(row)) { keys.append(seriesKey(row)) }
    var unlisted = 0
    return keys.map { key in
      if let style = styles[key] { return (key, Series(name: style.name, colour: style.colour, marker: style.marker)) }
      defer { unlisted += 1 }
      return (key, Series(name: key, colour: defaultColours[unlisted % defaultColours.count], marker: .diamond))
    }
  }

  /// The whole SVG document.
  public static func svg(_ results: ComparisonResults) -> String {
    let metric = results.settings.primaryMetric
    let rows = results.rows.filter(\.isMeasured)
    let quality = rows.map { $0.quality!.metric }
    var out = [
      ##"<?xml version="1.0" encoding="UTF-8"?>"##,
      ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(n(width))" height="\##(n(height))" viewBox="0 0 \##(n(width)) \##(n(height))" font-family="sans-serif" font-size="12">"##,
      ##"<rect x="0" y="0" width="\##(n(width))" height="\##(n(height))" fill="#ffffff"/>"##,
      ##"<text x="\##(n(width / 2))" y="22" text-anchor="middle" font-size="15">\##(escape("\(results.teacher.modelType) teacher on \(results.data.name): \(metric) of each model"))</text>"##,
    ]
    let series = seriesList(rows)
    let styleOf = { (row: ComparisonRow) in series.first { $0.key == seriesKey(row) }!.series }
    let panelWidth = width / 2
    out += panel(
      rows: rows, x: rows.map { $0.cost!.latencySpeedup ?? 1 }, y: quality, originX: 0, width: panelWidth,
      title: "\(metric) against measured speedup", xLabel: "measured decoding speedup (teacher latency / model latency)",
      yLabel: metric, higherXIsBetter: true, includeX: 1, xTickText: { formatTick($0) + "×" }, style: styleOf)
    out += panel(
      rows: rows, x: rows.map { Double($0.cost!.weightBytesOrFP32) }, y: quality, originX: panelWidth, width: panelWidth,
      title: "\(metric) against stored weight bytes", xLabel: "weight bytes (fp32: 4 per parameter; quantized: as stored)",
      yLabel: metric, higherXIsBetter: false, includeX: nil, xTickText: { ComparisonReport.compact($0) + "B" }, style: styleOf)
    out += legend(series.map(\.series))
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }

  // MARK: Panels

  static func panel(
    rows: [ComparisonRow], x: [Double], y: [Double], originX: Double, width: Double, title: String, xLabel: String,
    yLabel: String, higherXIsBetter: Bool, includeX: Double?, xTickText: (Double) -> String,
    style: (ComparisonRow) -> Series
  ) -> [String] {
    let plotLeft = originX + left, plotRight = originX + width - right
    let plotTop = top, plotBottom = height - bottom - 30  // room for the legend below
    let xTicks = ticks(x + (includeX.map { [$0] } ?? [])), yTicks = ticks(y)
    let (xMin, xMax) = (xTicks.first!, xTicks.last!), (yMin, yMax) = (yTicks.first!, yTicks.last!)
    func px(_ value: Double) -> Double { plotLeft + (value - xMin) / (xMax - xMin) * (plotRight - plotLeft) }
    func py(_ value: Double) -> Double { plotBottom - (value - yMin) / (yMax - yMin) * (plotBottom - plotTop) }

    var out = [
      "<g>",
      ##"<text x="\##(n((plotLeft + plotRight) / 2))" y="\##(n(plotTop - 12))" text-anchor="middle" font-size="13">\##(escape(title))</text>"##,
      ##"<rect x="\##(n(plotLeft))" y="\##(n(plotTop))" width="\##(n(plotRight - plotLeft))" height="\##(n(plotBottom - plotTop))" fill="none" stroke="#333333"/>"##,
    ]
    for tick in xTicks {
      let at = px(tick)
      out.append(##"<line x1="\##(n(at))" y1="\##(n(plotTop))" x2="\##(n(at))" y2="\##(n(plotBottom))" stroke="#e5e5e5"/>"##)
      out.append(##"<line x1="\##(n(at))" y1="\##(n(plotBottom))" x2="\##(n(at))" y2="\##(n(plotBottom + 5))" stroke="#333333"/>"##)
      out.append(##"<text x="\##(n(at))" y="\##(n(plotBottom + 18))" text-anchor="middle">\##(escape(xTickText(tick)))</text>"##)
    }
    for tick in yTicks {
      let at = py(tick)
      out.append(##"<line x1="\##(n(plotLeft))" y1="\##(n(at))" x2="\##(n(plotRight))" y2="\##(n(at))" stroke="#e5e5e5"/>"##)
      out.append(##"<line x1="\##(n(plotLeft - 5))" y1="\##(n(at))" x2="\##(n(plotLeft))" y2="\##(n(at))" stroke="#333333"/>"##)
      out.append(##"<text x="\##(n(plotLeft - 8))" y="\##(n(at + 4))" text-anchor="end">\##(escape(formatTick(tick)))</text>"##)
    }
    out.append(##"<text x="\##(n((plotLeft + plotRight) / 2))" y="\##(n(plotBottom + 38))" text-anchor="middle">\##(escape(xLabel))</text>"##)
    let yMid = (plotTop + plotBottom) / 2
    out.append(##"<text x="\##(n(plotLeft - 50))" y="\##(n(yMid))" text-anchor="middle" transform="rotate(-90 \##(n(plotLeft - 50)) \##(n(yMid)))">\##(escape(yLabel))</text>"##)

    // The Pareto front as a step line through its points, left to right; each
    // corner takes the worse coordinate of its two neighbours.
    let points = zip(x, y).map { (x: $0, y: $1) }
    let front = ParetoFront.members(points, higherXIsBetter: higherXIsBetter).map { points[$0] }
      .sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
    if front.count > 1 {
      var path = "M \(n(px(front[0].x))) \(n(py(front[0].y)))"
      for (a, b) in zip(front, front.dropFirst()) {
        let cornerX = higherXIsBetter ? a.x : b.x
        path += " L \(n(px(cornerX))) \(n(py(min(a.y, b.y)))) L \(n(px(b.x))) \(n(py(b.y)))"
      }
      out.append(##"<path d="\##(path)" fill="none" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5 3"/>"##)
    }
    // The candidates first, the teacher on top.
    for (index, row) in rows.enumerated().sorted(by: { ($0.element.isTeacher ? 1 : 0) < ($1.element.isTeacher ? 1 : 0) }) {
      out.append(marker(style(row), at: (px(x[index]), py(y[index])), title: pointTitle(row)))
      if row.isTeacher {
        // Left of the star near the right edge, so the label stays inside.
        let (at, anchor) = px(x[index]) > plotRight - 60 ? (px(x[index]) - 9, "end") : (px(x[index]) + 9, "start")
        out.append(##"<text x="\##(n(at))" y="\##(n(py(y[index]) - 8))" text-anchor="\##(anchor)">teacher</text>"##)
      }
    }
    out.append("</g>")
    return out
  }

  static func pointTitle(_ row: ComparisonRow) -> String {
    let quality = row.quality.map { ComparisonReport.formatMetric($0.metric, name: "") } ?? "?"
    let speedup = row.cost?.latencySpeedup.map { ComparisonReport.format($0, "%.2f×") } ?? "?"
    return "\(row.label): quality \(quality), speedup \(speedup), \(row.plan ?? "")"
  }

  /// The legend below the panels: one entry per series, then the Pareto
  /// front's; entries that would pass the right edge (many kinds, baselines
  /// among them) go on to a second line.
  static func legend(_ shown: [Series]) -> [String] {
    let frontText = "Pareto front (higher quality, faster / smaller)"
    let entries = shown.map { (series: Optional($0), width: 30 + Double($0.name.count) * 7) }
      + [(series: nil, width: 32 + Double(frontText.count) * 6.5)]
    // Entries by line, each with its x.
    var lines: [[(series: Series?, x: Double)]] = [[]]
    var cursor = left
    for entry in entries {
      if cursor + entry.width > width - right, !(lines.last?.isEmpty ?? true) {
        lines.append([])
        cursor = left
      }
      lines[lines.count - 1].append((entry.series, cursor))
      cursor += entry.width
    }
    let lineHeight = 17.0, firstY = height - 22 - lineHeight * Double(lines.count - 1) / 2
    var out = ["<g>"]
    for (row, line) in lines.enumerated() {
      let y = firstY + lineHeight * Double(row)
      for (series, x) in line {
        if let item = series {
          out.append(marker(item, at: (x, y - 4), title: item.name))
          out.append(##"<text x="\##(n(x + 10))" y="\##(n(y))">\##(escape(item.name))</text>"##)
        } else {
          out.append(##"<line x1="\##(n(x))" y1="\##(n(y - 4))" x2="\##(n(x + 26))" y2="\##(n(y - 4))" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5 3"/>"##)
          out.append(##"<text x="\##(n(x + 32))" y="\##(n(y))">\##(frontText)</text>"##)
        }
      }
    }
    out.append("</g>")
    return out
  }

  /// One marker centred on `point`, with a tooltip.
  static func marker(_ series: Series, at point: (x: Double, y: Double), title: String) -> String {
    let (x, y) = point, r = 5.0, colour = series.colour
    let tooltip = "<title>\(escape(title))</title>"
    func polygon(_ corners: [(Double, Double)]) -> String {
      let list = corners.map { "\(n(x + $0.0)) \(n(y + $0.1))" }.joined(separator: " ")
      return ##"<polygon points="\##(list)" fill="\##(colour)" stroke="#ffffff" stroke-width="0.8">\##(tooltip)</polygon>"##
    }
    func strokes(_ path: String, width: Double) -> String {
      ##"<path d="\##(path)" stroke="\##(colour)" stroke-width="\##(n(width))" fill="none">\##(tooltip)</path>"##
    }
    switch series.marker {
    case .circle:
      return ##"<circle cx="\##(n(x))" cy="\##(n(y))" r="\##(n(r))" fill="\##(colour)" stroke="#ffffff" stroke-width="0.8">\##(tooltip)</circle>"##
    case .square:
      return ##"<rect x="\##(n(x - r))" y="\##(n(y - r))" width="\##(n(2 * r))" height="\##(n(2 * r))" fill="\##(colour)" stroke="#ffffff" stroke-width="0.8">\##(tooltip)</rect>"##
    case .triangle: return polygon([(0, -r * 1.2), (r * 1.1, r * 0.8), (-r * 1.1, r * 0.8)])
    case .invertedTriangle: return polygon([(0, r * 1.2), (r * 1.1, -r * 0.8), (-r * 1.1, -r * 0.8)])
    case .rightTriangle: return polygon([(r * 1.2, 0), (-r * 0.8, -r * 1.1), (-r * 0.8, r * 1.1)])
    case .pentagon, .hexagon, .octagon:
      let sides = series.marker == .pentagon ? 5 : (series.marker == .hexagon ? 6 : 8)
      return polygon((0..<sides).map { k in
        let angle = Double(k) * 2 * Double.pi / Double(sides) - Double.pi / 2
        return (r * 1.15 * cos(angle), r * 1.15 * sin(angle))
      })
    case .plus:
      return strokes("M \(n(x - r)) \(n(y)) L \(n(x + r)) \(n(y)) M \(n(x)) \(n(y - r)) L \(n(x)) \(n(y + r))", width: 2.6)
    case .diamond: return polygon([(0, -r * 1.3), (r * 1.1, 0), (0, r * 1.3), (-r * 1.1, 0)])
    case .star:
      let corners = (0..<10).map { k -> (Double, Double) in
        let angle = Double(k) * Double.pi / 5 - Double.pi / 2, radius = k % 2 == 0 ? r * 1.7 : r * 0.7
        return (radius * cos(angle), radius * sin(angle))
      }
      return polygon(corners)
    case .cross:
      return strokes("M \(n(x - r)) \(n(y - r)) L \(n(x + r)) \(n(y + r)) M \(n(x - r)) \(n(y + r)) L \(n(x + r)) \(n(y - r))", width: 2.2)
    }
  }

  // MARK: Axes

  /// About five round ticks (1, 2 or 5 × 10ᵏ apart) covering `values`; the
  /// first and last bound the axis. A single value gets a unit-wide range.
  static func ticks(_ values: [Double]) -> [Double] {
    let finite = values.filter(\.isFinite)
    var low = finite.min() ?? 0, high = finite.max() ?? 1
    if high - low < 1e-12 * max(1, abs(high)) {
      // One value: a range around it that stays non-negative when it is.
      let pad = abs(low) > 0 ? abs(low) * 0.1 : 1
      (low, high) = (low >= 0 ? max(0, low - pad) : low - pad, high + pad)
    }
    let raw = (high - low) / 5
    let power = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
    let first = floor(low / step + 1e-9), last = ceil(high / step - 1e-9)
    return stride(from: first, through: last, by: 1).map { $0 * step }
  }

  /// A tick value without trailing zeros: `0.25`, `2`, `1.5`.
  static func formatTick(_ value: Double) -> String {
    String(format: "%.4g", abs(value) < 1e-12 ? 0 : value)
  }

  /// A coordinate with one decimal.
  static func n(_ value: Double) -> String { String(format: "%.1f", value) }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
