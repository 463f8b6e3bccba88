import Foundation
import Seq2SeqModels
import TensorCore

/// The teacher's greedy outputs for training sources, the targets of the
/// pseudo-labels baseline. Generating them is the costly part, so they are
/// made once and cached in a file of Tessera's own, keyed by the teacher's
/// fingerprint and a fingerprint of the sources: a cache written for another
/// teacher or other data (or unreadable) is never used, only replaced.
///
/// The file (`pseudo-labels.tsv`) is text: a header line, then
/// `teacher\tSHA`, `data\tSHA`, `count\tN`, `seconds\tX` (what generating them
/// cost), and one line of space-separated target token ids per source, each
/// ending with end of sequence.
public enum PseudoLabels {
  public static let fileName = "pseudo-labels.tsv"
  static let header = "# tessera pseudo-labels 1"

  /// Labels read from or written to a cache.
  public struct Labels: Equatable, Sendable {
    public var targets: [[Int]]
    /// Seconds the teacher spent generating them (when they were made, maybe by an earlier run).
    public var seconds: Double
    /// Whether they came from the cache rather than this call.
    public var wasCached: Bool
    /// The cache file's bytes.
    public var fileData: Data
  }

  /// SHA-256 of the sources' token ids: labels belong to exactly these sources.
  public static func dataFingerprint(sources: [[Int]]) -> String {
    SHA256.hexDigest(of: Data(sources.map { $0.map(String.init).joined(separator: " ") }.joined(separator: "\n").utf8))
  }

  /// The cached labels at `cache` when they were made by this teacher for
  /// these sources; otherwise the teacher's greedy outputs, generated in
  /// batches of `batchSize` (`progress` gets the number done). The cache file
  /// is written only when `writeCache` (a run's own folder is written by its
  /// checkpoints instead).
  public static func labels(
    cache: URL, teacher: any Seq2SeqModel, teacherFingerprint: String, sources: [[Int]], maxNewTokens: Int,
    batchSize: Int = 64, writeCache: Bool, progress: (Int) throws -> Void = { _ in }
  ) throws -> Labels {
    let data = dataFingerprint(sources: sources)
    if let fileData = try? Data(contentsOf: cache),
      let cached = parse(fileData, teacherFingerprint: teacherFingerprint, dataFingerprint: data, count: sources.count)
    {
      return Labels(targets: cached.targets, seconds: cached.seconds, wasCached: true, fileData: fileData)
    }
    let start = Date()
    let eos = teacher.specialTokens.eos
    let options = GenerationOptions(maxNewTokens: maxNewTokens)
    var targets: [[Int]] = []
    targets.reserveCapacity(sources.count)
    for first in stride(from: 0, to: sources.count, by: max(1, batchSize)) {
      let rows = Array(sources[first..<min(first + max(1, batchSize), sources.count)])
      targets += try withoutGradient { try generate(teacher, sources: rows, options: options) }.map { target(of: $0, eos: eos) }
      try progress(targets.count)
    }
    let seconds = Date().timeIntervalSince(start)
    let fileData = serialize(targets, teacherFingerprint: teacherFingerprint, dataFingerprint: data, seconds: seconds)
    if writeCache { try AtomicFile.write(fileData, to: cache) }
    return Labels(targets: targets, seconds: seconds, wasCached: false, fileData: fileData)
  }

  /// A generated row (decoder start first, padded) as a target: the tokens
  /// up to and including end of sequence, which is added when generation stopped at the length limit.
  static func target(of row: [Int], eos: Int) -> [Int] {
    let generated = row.dropFirst()
    if let end = generated.firstIndex(of: eos) { return Array(generated[...end]) }
    return Array(generated) + [eos]
  }

  static func serialize(_ targets: [[Int]], teacherFingerprint: String, dataFingerprint: String, seconds: Double) -> Data {
    var lines = [
      header, "teacher\t\(teacherFingerprint)", "data\t\(dataFingerprint)", "count\t\(targets.count)", "seconds\t\(seconds)",
    ]
    lines += targets.map { $0.map(String.init).joined(separator: " ") }
    return Data((lines.joined(separator: "\n") + "\n").utf8)
  }

  /// The labels in `data` when it is a complete cache for this teacher and
  /// these sources; nil otherwise (the caller regenerates).
  static func parse(_ data: Data, teacherFingerprint: String, dataFingerprint: String, count: Int) -> (
    targets: [[Int]], seconds: Double
  )? {
    guard let text = String(data: data, encoding: .utf8) else { return nil }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    guard lines.count == 5 + count, lines[0] == header, lines[1] == "teacher\t\(teacherFingerprint)",
      lines[2] == "data\t\(dataFingerprint)", lines[3] == "count\t\(count)", lines[4].hasPrefix("seconds\t"),
      let seconds = Double(lines[4].dropFirst("seconds\t".count)), seconds.isFinite, seconds >= 0
    else { return nil }
    var targets: [[Int]] = []
    for line in lines[5...] {
      let ids = line.split(separator: " ").map { Int($0) }
      guard !ids.isEmpty, ids.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
      targets.append(ids.compactMap { $0 })
    }
    return (targets, seconds)
  }
}
