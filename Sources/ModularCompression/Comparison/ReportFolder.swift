import Foundation
import TensorCore

/// The report folder of a comparison: claimed as a report before any work
/// (``OutputFolder`` refuses what Tessera did not write), and replaced whole,
/// so that a run killed while writing leaves the previous report as it was,
/// never a mix of two runs.
public enum ReportFolder {
  /// Throws ``OutputFolderError`` unless `folder` may receive a report:
  /// missing, empty, a report Tessera wrote, or (with `force`) another of its outputs.
  public static func checkReplaceable(_ folder: URL, force: Bool = false, reading inputs: [URL] = []) throws {
    try OutputFolder.claim(folder, as: .report, force: force, reading: inputs)
  }

  /// Runs `write` on a fresh staging folder beside `folder`, then swaps it in
  /// with ``AtomicFolder``. On an error nothing at `folder` changes.
  static func replace<Result>(
    _ folder: URL, force: Bool = false, reading inputs: [URL] = [], _ write: (URL) throws -> Result
  ) throws -> Result {
    try checkReplaceable(folder, force: force, reading: inputs)
    try FileAccess.createFolder(folder.deletingLastPathComponent())
    let staging = AtomicFolder.stagingURL(for: folder)
    try FileAccess.createFolder(staging)
    var isSwapped = false
    defer { if !isSwapped { try? FileManager.default.removeItem(at: staging) } }
    let result = try write(staging)
    try AtomicFolder.replace(folder, with: staging)
    isSwapped = true
    return result
  }
}
