import Foundation

/// A one-line progress bar on standard error: `[#####-----] 50/100 loss 1.23 · 412 tok/s · ETA 0:12`.
/// Redraws in place on a terminal; on a pipe or in CI it prints a line every
/// tenth of the way so logs stay short.
final class ProgressBar: @unchecked Sendable {
  private let total: Int
  private let label: String
  private let start = Date()
  private let isTerminal = isatty(STDERR_FILENO) != 0
  private var lastDecile = -1

  init(total: Int, label: String) {
    self.total = max(total, 1)
    self.label = label
  }

  /// Shows `done` of `total` with extra `detail` (loss, throughput, …).
  func update(_ done: Int, detail: String = "") {
    let fraction = Double(min(done, total)) / Double(total)
    let elapsed = Date().timeIntervalSince(start)
    let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
    let width = 24
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    let line = "\(label) [\(bar)] \(done)/\(total) \(detail) · ETA \(ProgressBar.clock(eta))"
    fflush(nil)  // earlier stdout lines first, so logs read in order
    if isTerminal {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    } else {
      let decile = Int(fraction * 10)
      if decile != lastDecile {
        lastDecile = decile
        FileHandle.standardError.write(Data((line + "\n").utf8))
      }
    }
  }

  /// Ends the bar with the total time taken.
  func finish(detail: String = "") {
    let elapsed = Date().timeIntervalSince(start)
    let line = "\(label) done in \(ProgressBar.clock(elapsed)) \(detail)"
    FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
  }

  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
      ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
      : String(format: "%d:%02d", s / 60, s % 60)
  }
}

/// Progress of work in labelled stages (`calibrating`, then `factorising`):
/// one bar per stage, the previous one finished when the label changes.
final class StagedProgress {
  private var current: (label: String, total: Int, bar: ProgressBar)?

  func update(_ label: String, _ done: Int, _ total: Int) {
    if let current, current.label != label || current.total != total { finish() }
    if current == nil { current = (label, total, ProgressBar(total: total, label: label)) }
    current!.bar.update(done)
  }

  func finish() {
    current?.bar.finish()
    current = nil
  }
}
