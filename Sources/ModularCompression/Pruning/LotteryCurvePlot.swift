import Foundation

/// `curve.svg`: exact match against sparsity, the tickets and their random
/// re-initialisations as two lines from the dense model (a star), with the
/// one-point bar the winning ticket must clear dashed. Axes, markers and
/// text escaping are ``ComparisonPlot``'s.
enum LotteryCurvePlot {
  static let width = 640.0, height = 420.0
  static let left = 70.0, right = 25.0, top = 50.0, bottom = 80.0
  static let ticket = ComparisonPlot.Series(name: "ticket (rewound)", colour: "#1f77b4", marker: .circle)
  static let control = ComparisonPlot.Series(name: "control (random re-init)", colour: "#ff7f0e", marker: .square)
  static let dense = ComparisonPlot.Series(name: "dense", colour: "#000000", marker: .star)

  static func svg(_ curve: LotteryCurve) -> String {
    typealias Plot = ComparisonPlot
    let n = Plot.n, rounds = curve.rounds
    let denseEM = (rounds.first?.ticket.exactMatch ?? 0) * 100
    let bar = denseEM - LotteryCurve.winningMargin * 100
    let xs = rounds.map { $0.sparsity * 100 }
    let ys = rounds.flatMap { [$0.ticket.exactMatch * 100] + ($0.control.map { [$0.exactMatch * 100] } ?? []) } + [bar]
    let xTicks = Plot.ticks(xs + [0]), yTicks = Plot.ticks(ys)
    let (plotLeft, plotRight, plotTop, plotBottom) = (left, width - right, top, height - bottom)
    func px(_ value: Double) -> Double {
      plotLeft + (value - xTicks.first!) / (xTicks.last! - xTicks.first!) * (plotRight - plotLeft)
    }
    func py(_ value: Double) -> Double {
      plotBottom - (value - yTicks.first!) / (yTicks.last! - yTicks.first!) * (plotBottom - plotTop)
    }
    var out = [
      ##"<?xml version="1.0" encoding="UTF-8"?>"##,
      ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(n(width))" height="\##(n(height))" viewBox="0 0 \##(n(width)) \##(n(height))" font-family="sans-serif" font-size="12">"##,
      ##"<rect x="0" y="0" width="\##(n(width))" height="\##(n(height))" fill="#ffffff"/>"##,
      ##"<text x="\##(n(width / 2))" y="24" text-anchor="middle" font-size="15">\##(Plot.escape("Lottery tickets: EM against sparsity (rewind to step \(curve.settings.rewindStep))"))</text>"##,
      ##"<rect x="\##(n(plotLeft))" y="\##(n(plotTop))" width="\##(n(plotRight - plotLeft))" height="\##(n(plotBottom - plotTop))" fill="none" stroke="#333333"/>"##,
    ]
    for tick in xTicks {
      out.append(##"<line x1="\##(n(px(tick)))" y1="\##(n(plotTop))" x2="\##(n(px(tick)))" y2="\##(n(plotBottom))" stroke="#e5e5e5"/>"##)
      out.append(##"<text x="\##(n(px(tick)))" y="\##(n(plotBottom + 18))" text-anchor="middle">\##(Plot.formatTick(tick))%</text>"##)
    }
    for tick in yTicks {
      out.append(##"<line x1="\##(n(plotLeft))" y1="\##(n(py(tick)))" x2="\##(n(plotRight))" y2="\##(n(py(tick)))" stroke="#e5e5e5"/>"##)
      out.append(##"<text x="\##(n(plotLeft - 8))" y="\##(n(py(tick) + 4))" text-anchor="end">\##(Plot.formatTick(tick))</text>"##)
    }
    out.append(##"<text x="\##(n((plotLeft + plotRight) / 2))" y="\##(n(plotBottom + 38))" text-anchor="middle">sparsity of the attention and feed-forward weights</text>"##)
    let yMid = (plotTop + plotBottom) / 2
    out.append(##"<text x="\##(n(plotLeft - 48))" y="\##(n(yMid))" text-anchor="middle" transform="rotate(-90 \##(n(plotLeft - 48)) \##(n(yMid)))">exact match (%)</text>"##)
    if !rounds.isEmpty {
      out.append(##"<line x1="\##(n(plotLeft))" y1="\##(n(py(bar)))" x2="\##(n(plotRight))" y2="\##(n(py(bar)))" stroke="#d62728" stroke-width="1.2" stroke-dasharray="5 3"><title>dense EM − 1 point</title></line>"##)
    }
    // Both lines start at the dense model.
    let lines: [(ComparisonPlot.Series, [(Double, Double, String)])] = [
      (ticket, rounds.map { ($0.sparsity * 100, $0.ticket.exactMatch * 100, "round \($0.round) ticket") }),
      (control, rounds.prefix(1).map { ($0.sparsity * 100, $0.ticket.exactMatch * 100, "dense") }
        + rounds.compactMap { r in r.control.map { (r.sparsity * 100, $0.exactMatch * 100, "round \(r.round) control") } }),
    ]
    for (series, points) in lines where points.count > 1 {
      let path = points.enumerated().map { "\($0.offset == 0 ? "M" : "L") \(n(px($0.element.0))) \(n(py($0.element.1)))" }
      out.append(##"<path d="\##(path.joined(separator: " "))" fill="none" stroke="\##(series.colour)" stroke-width="1.5"/>"##)
    }
    for (series, points) in lines {
      for (x, y, label) in points.dropFirst() {
        out.append(Plot.marker(series, at: (px(x), py(y)), title: "\(label): sparsity \(Plot.formatTick(x))%, EM \(Plot.formatTick(y))"))
      }
    }
    if let first = rounds.first {
      out.append(Plot.marker(dense, at: (px(0), py(first.ticket.exactMatch * 100)), title: "dense: EM \(Plot.formatTick(denseEM))"))
    }
    var x = left
    for series in [dense, ticket, control] {
      out.append(Plot.marker(series, at: (x, height - 22), title: series.name))
      out.append(##"<text x="\##(n(x + 10))" y="\##(n(height - 18))">\##(Plot.escape(series.name))</text>"##)
      x += 30 + Double(series.name.count) * 7
    }
    out.append(##"<line x1="\##(n(x))" y1="\##(n(height - 22))" x2="\##(n(x + 26))" y2="\##(n(height - 22))" stroke="#d62728" stroke-width="1.2" stroke-dasharray="5 3"/>"##)
    out.append(##"<text x="\##(n(x + 32))" y="\##(n(height - 18))">dense − 1 point</text>"##)
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }
}
