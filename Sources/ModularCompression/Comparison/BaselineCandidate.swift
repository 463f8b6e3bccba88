import Foundation
import Seq2SeqModels
import Tokenizers

/// Per-ratio students that `tessera baselines` trained (scratch, sft, kd,
/// pseudo-labels, theseus) and the assemblies it polished, each a model folder
/// with `baseline.json` (``BaselineRecord``), measured like every other row
/// (`compare --baselines DIR`); a polished one is a row of its own kind.
///
/// They are found and checked before anything is measured, so a wrong folder
/// fails in seconds, not after the assemblies: a baseline trained against
/// another teacher is refused (never skipped: a ranking against the wrong
/// teacher's student would mislead), as are a folder without one and two
/// baselines that would share a row.
public struct BaselineCandidate: ComparisonCandidate {
  public static let kind = "baseline"
  /// The kind of a polish run's row: an assembly trained further, ranked on its own,
  /// neither among the assemblies (not retrained) nor among the rivals.
  public static let polishedKind = "polished"
  /// How far below the given folder baselines are looked for: the folder, its children and grandchildren.
  public static let searchDepth = 2

  /// A baseline's model folder and its record.
  public struct Found: Sendable, Equatable {
    public var folder: URL
    public var record: BaselineRecord

    /// `kd 2×`, with `speed-first` added for the students whose depths that rule chose.
    public var label: String {
      ComparisonRow.defaultLabel(name: record.method.rawValue, requestedRatio: record.requestedRatio)
        + (record.strategy == .speedFirst ? " \(AssemblyStrategy.speedFirst.rawValue)" : "")
    }
  }

  /// In method order, then by ratio.
  public let baselines: [Found]

  /// The baselines under `root` (``searchDepth``), each checked against the
  /// teacher with `teacherFingerprint` and loaded once to check that it is a
  /// model of the depths its record names that `tokenizer` fits.
  public init(under root: URL, teacherFingerprint: String, tokenizer: any TextTokenizer) throws {
    let folders = try Self.baselineFolders(under: root)
    guard !folders.isEmpty else { throw BaselineError.noBaselines(folder: root.path) }
    var found: [Found] = []
    for folder in folders {
      let record = try BaselineRecord.read(from: folder)
      guard record.teacherFingerprint == teacherFingerprint else {
        throw BaselineError.otherTeacher(folder: folder.path, found: record.teacherFingerprint, expected: teacherFingerprint)
      }
      let baseline = Found(folder: folder, record: record)
      if let twin = found.first(where: { $0.label == baseline.label }) {
        throw BaselineError.sameRow(label: baseline.label, first: twin.folder.path, second: folder.path)
      }
      try Self.check(try ModelLoading.load(from: folder), of: baseline, fits: tokenizer)
      found.append(baseline)
    }
    let order = BaselineMethod.allCases
    func key(_ baseline: Found) -> (Int, Double, String) {
      let record = baseline.record
      return (order.firstIndex(of: record.method) ?? order.count, record.requestedRatio, record.strategy.rawValue)
    }
    baselines = found.sorted { key($0) < key($1) }
  }

  /// Folders holding `baseline.json` at `root` and up to ``searchDepth``
  /// levels below, sorted; hidden entries (Tessera's staging folders among
  /// them) are passed over, and a baseline's own subfolders are not searched.
  static func baselineFolders(under root: URL) throws -> [URL] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder), isFolder.boolValue else {
      throw BaselineError.notAFolder(folder: root.path)
    }
    func search(_ folder: URL, depth: Int) -> [URL] {
      if FileManager.default.fileExists(atPath: folder.appendingPathComponent(BaselineRecord.fileName).path) { return [folder] }
      guard depth < searchDepth else { return [] }
      let entries = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
      return entries.flatMap { entry -> [URL] in
        let child = folder.appendingPathComponent(entry)
        var isChildFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: child.path, isDirectory: &isChildFolder), isChildFolder.boolValue else { return [] }
        return search(child, depth: depth + 1)
      }
    }
    return search(root, depth: 0)
  }

  /// Refuses a model whose depths are not its record's or that the teacher's tokenizer does not fit.
  static func check(_ model: any Seq2SeqModel, of baseline: Found, fits tokenizer: any TextTokenizer) throws {
    let record = baseline.record
    guard model.encoder.depth == record.encoderLayers, model.decoder.depth == record.decoderLayers else {
      throw BaselineError.otherDepths(
        folder: baseline.folder.path, recorded: "\(record.encoderLayers)+\(record.decoderLayers)",
        found: "\(model.encoder.depth)+\(model.decoder.depth)")
    }
    try ModelInputChecks.tokenizer(
      tokenizer, fits: model, tokenizerFile: "the teacher's tokenizer", modelFolder: baseline.folder.path)
  }

  public func rows(in context: ComparisonContext) -> [CandidateRow] {
    baselines.map { baseline in
      let record = baseline.record
      let polished = record.method == .polish
      var row = ComparisonRow(
        kind: polished ? Self.polishedKind : Self.kind, label: baseline.label, method: record.method.rawValue,
        requestedRatio: record.requestedRatio)
      row.plan =
        polished
        ? "\(record.startPlan ?? "an assembly") polished \(record.steps) steps in \(baseline.folder.path)"
        : "\(record.encoderLayers)+\(record.decoderLayers) \(record.method.rawValue) student in \(baseline.folder.path)"
      // The model is already a folder of its own: nothing is saved again.
      return CandidateRow(row: row, identity: "baseline " + baseline.folder.standardizedFileURL.path) { _ in
        let model = try ModelLoading.load(from: baseline.folder)
        try Self.check(model, of: baseline, fits: context.tokenizer)
        return BuiltCandidate(model: model)
      }
    }
  }
}

/// A `--baselines` folder that cannot be compared.
public enum BaselineError: Error, LocalizedError, CustomStringConvertible, Equatable {
  case notAFolder(folder: String)
  case noBaselines(folder: String)
  case otherTeacher(folder: String, found: String, expected: String)
  case sameRow(label: String, first: String, second: String)
  case otherDepths(folder: String, recorded: String, found: String)

  public var description: String {
    switch self {
    case .notAFolder(let folder): "\(folder): not a folder of baselines (it does not exist or is a file)"
    case .noBaselines(let folder):
      "\(folder): no baseline found (no \(BaselineRecord.fileName) in it, its subfolders or theirs); "
        + "train them with tessera baselines train or sweep"
    case .otherTeacher(let folder, let found, let expected):
      "\(folder): a baseline of another teacher (\(BaselineRecord.fileName) names teacher \(found), the compared registry's "
        + "is \(expected)); compare it with that teacher's registry, or retrain it against this teacher"
    case .sameRow(let label, let first, let second):
      "\(second): the same method, ratio and strategy as \(first) (both would be row '\(label)'); give --baselines a folder with one of them"
    case .otherDepths(let folder, let recorded, let found):
      "\(folder): \(BaselineRecord.fileName) names \(recorded) layers but the model has \(found)"
    }
  }

  public var errorDescription: String? { description }
}
