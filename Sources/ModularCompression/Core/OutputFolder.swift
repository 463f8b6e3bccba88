import Foundation
import Seq2SeqModels

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The kinds of folder Tessera writes, each recognised by its content.
public enum OutputKind: String, CaseIterable, Sendable {
  /// A model folder with `trainer_state.json`: a teacher `teacher train` wrote (or is writing).
  case teacher
  /// A model folder (`config.json`, `model.safetensors`) such as `teacher import` writes.
  case model
  /// A model folder with `assembly.json`, written by `assemble` or `compare --save-models`.
  case assembly
  /// A module registry: `manifest.json` and module files.
  case registry
  /// A comparison report: `report.md`, `results.json`, `results.csv`, `plot.svg`.
  case report
  /// Task data from `data make`: `task.json` and the split files.
  case dataset
  /// The output of `tessera demo`: `demo.json` and its teacher, registry and report folders.
  case demo
  /// A per-ratio baseline student (`baselines train`): a model folder with
  /// `baseline.json` once finished; before that, a checkpoint whose
  /// `trainer_state.json` names a baseline objective, or theseus' `modules` registry.
  case baseline
  /// A `baselines sweep` folder: `sweep.json`, one baseline per subfolder, the shared pseudo-label cache.
  case baselineSweep = "baseline-sweep"
  /// A `lottery` run: `curve.json` (with its table and plot), the dense run, the rewind weights, one folder per round.
  case lottery

  /// "a teacher", for messages.
  public var noun: String {
    switch self {
    case .teacher: "a teacher"
    case .model: "a model folder"
    case .assembly: "an assembled model"
    case .registry: "a module registry"
    case .report: "a comparison report"
    case .dataset: "task data"
    case .demo: "a demo output"
    case .baseline: "a baseline student"
    case .baselineSweep: "a baseline sweep"
    case .lottery: "a lottery-ticket run"
    }
  }

  /// ``noun`` with the files that mark the kind, for messages.
  public var displayName: String {
    switch self {
    case .teacher: "a trained teacher (trainer_state.json)"
    case .model: "a model folder (config.json, model.safetensors)"
    case .assembly: "an assembled model (assembly.json)"
    case .registry: "a module registry (manifest.json)"
    case .report: "a comparison report (report.md, results.json)"
    case .dataset: "task data (task.json)"
    case .demo: "a demo output (demo.json)"
    case .baseline: "a baseline student (baseline.json)"
    case .baselineSweep: "a baseline sweep (sweep.json)"
    case .lottery: "a lottery-ticket run (curve.json)"
    }
  }
}

/// What is at a path that a command is asked to write.
public enum OutputContents: Equatable, Sendable {
  /// Nothing: the command creates it.
  case nothing
  /// A folder with no entries.
  case emptyFolder
  /// A folder Tessera wrote, holding only that kind's files.
  case tessera(OutputKind)
  /// A file (or anything else that is not a folder).
  case file
  /// A folder holding Tessera outputs in subfolders, keyed by subfolder name.
  case holdsOutputs([String: OutputKind])
  /// A folder holding entries Tessera does not write (up to a few of them, sorted).
  case otherFiles([String])
}

/// Decides whether a command may write its output folder, before any long run
/// starts, so that nothing a user owns is replaced.
///
/// Nothing there, an empty folder, or an output of the kind the command
/// writes may be replaced. Another kind of Tessera output is replaced only
/// with `force`. A file, a folder with files Tessera did not write, a folder
/// holding a registry or teacher, the current folder or one above it, and a
/// folder the command reads from are never replaced, whatever `force` says.
///
/// ```swift
/// let existing = try OutputFolder.claim(out, as: .assembly, force: arguments.has("--force"),
///                                       reading: [teacherFolder, registry.folder])
/// ```
public enum OutputFolder {
  /// Names of the files each kind writes; an entry outside these lists makes a
  /// folder "a folder with other files". The first name of each list is the
  /// one that marks the kind.
  public static let fileNames: [OutputKind: [String]] = {
    let model = [
      "config.json", CheckpointFiles.singleFileName, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
      CheckpointFiles.indexFileName, GenerationSettings.fileName,
    ]
    return [
      .teacher: [TrainingCheckpoint.stateFileName, TrainingCheckpoint.optimizerFileName] + model,
      .assembly: [AssemblyReport.fileName] + model,
      .model: model,
      .registry: [ModuleRegistry.manifestFileName, RegistryLock.fileName] + ModuleRegistry.auxiliaryFileNames,
      .report: [
        ComparisonReport.markdownFileName, ComparisonReport.jsonFileName, ComparisonReport.csvFileName,
        ComparisonReport.plotFileName,
      ],
      .dataset: ["task.json", "train.jsonl", "valid.jsonl", "test.jsonl"],
      .demo: ["demo.json"],
      .baseline: [BaselineRecord.fileName, TrainingCheckpoint.stateFileName, TrainingCheckpoint.optimizerFileName]
        + model + [PseudoLabels.fileName],
      .baselineSweep: [BaselineSweep.fileName, PseudoLabels.fileName],
      .lottery: [LotteryCurve.fileName, LotteryCurve.csvFileName, LotteryCurve.markdownFileName, LotteryCurve.plotFileName],
    ]
  }()

  /// Subfolders each kind may hold, with the kinds they may be.
  static let subfolders: [OutputKind: [String: Set<OutputKind>]] = [
    .report: ["models": []],  // `compare --save-models`: a folder of assemblies, checked one by one
    .demo: ["teacher": [.teacher], "registry": [.registry], "report": [.report], "baselines": [.baselineSweep]],
    .baseline: [BaselineTraining.theseusRegistryName: [.registry]],
  ]

  /// What is at `url`. Symbolic links are followed.
  public static func inspect(_ url: URL) -> OutputContents {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return .nothing }
    guard isFolder.boolValue else { return .file }
    let entries = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
      .filter { !isTesseraLeftover($0) }.sorted()
    if entries.isEmpty { return .emptyFolder }
    if let kind = recognise(url, entries: entries) { return .tessera(kind) }
    var nested: [String: OutputKind] = [:]
    for entry in entries {
      if case .tessera(let kind) = inspect(url.appendingPathComponent(entry)) { nested[entry] = kind }
    }
    if !nested.isEmpty { return .holdsOutputs(nested) }
    // Name the entries no kind writes; a mixture of kinds' files names them all.
    let known = Set(fileNames.values.joined())
    let unknown = entries.filter { !known.contains($0) && !ManifestDecoding.isPlainFileName($0) }
    return .otherFiles(Array((unknown.isEmpty ? entries : unknown).prefix(5)))
  }

  /// Checks that a command writing `kind` may write `url` and that it can be
  /// written there; returns what is there now. `force` allows replacing
  /// another kind of Tessera output; `inputs` are folders the command reads,
  /// which it may neither replace nor hold.
  @discardableResult
  public static func claim(_ url: URL, as kind: OutputKind, force: Bool, reading inputs: [URL] = []) throws
    -> OutputContents
  {
    let path = url.path
    func refuse(_ reason: String) -> OutputFolderError { OutputFolderError(path: path, kind: kind, reason: reason) }
    let target = resolved(url)
    let here = resolved(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    if isSameOrAncestor(target, of: here) {
      throw refuse(target == here ? "it is the current folder" : "it holds the current folder (\(here.path))")
    }
    for input in inputs where isSameOrAncestor(target, of: resolved(input)) {
      throw refuse(target == resolved(input) ? "it is an input of this command" : "it holds \(input.path), an input of this command")
    }
    let contents = inspect(url)
    switch contents {
    case .nothing, .emptyFolder: break
    case .tessera(let existing) where existing == kind: break
    case .tessera(.demo):
      throw refuse("it holds \(OutputKind.demo.displayName), with a teacher and registry; choose another folder")
    case .tessera(let existing):
      guard force else { throw refuse("it holds \(existing.displayName); pass --force to replace it") }
    case .file:
      throw refuse("it is a file, not a folder Tessera wrote; choose another path")
    case .holdsOutputs(let nested):
      let list = nested.sorted { $0.key < $1.key }.map { "'\($0.key)' (\($0.value.displayName))" }
      throw refuse("it holds other outputs: \(list.joined(separator: ", ")); choose another folder")
    case .otherFiles(let names):
      throw refuse(
        "it holds files Tessera did not write (\(names.map { "'\($0)'" }.joined(separator: ", "))); "
          + "choose a new or empty folder")
    }
    try checkWritable(url)
    return contents
  }

  /// Checks, before a long run, that `url` can be created or replaced: its
  /// nearest existing folder (or `url` itself, when it is a folder) must be a
  /// writable folder. The error names the path and the reason.
  public static func checkWritable(_ url: URL) throws {
    var folder = url.standardizedFileURL
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue {
      try checkWritableFolder(folder, for: url)
    }
    repeat {
      folder = folder.deletingLastPathComponent()
    } while !FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) && folder.path != "/"
    guard isFolder.boolValue else {
      throw OutputFolderError(path: url.path, kind: nil, reason: "'\(folder.path)' is a file, so no folder can be made in it")
    }
    try checkWritableFolder(folder, for: url)
  }

  /// Creates and removes a hidden file in `folder`: unlike permission bits,
  /// this also catches read-only and special file systems, and works for root.
  private static func checkWritableFolder(_ folder: URL, for url: URL) throws {
    let probe = folder.appendingPathComponent(".tessera-write-check.tmp-\(getpid())-\(UInt32.random(in: .min ... .max))").path
    let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      let reason = String(cString: strerror(errno))
      throw OutputFolderError(
        path: url.path, kind: nil,
        reason: folder.path == url.standardizedFileURL.path
          ? "the folder is not writable (\(reason))" : "'\(folder.path)' is not writable (\(reason))")
    }
    _ = close(descriptor)
    _ = unlink(probe)
  }

  /// The kind of folder whose (non-leftover) `entries` are all of one kind's
  /// files and subfolders, with that kind's marker among them. The first
  /// kind whose marker is present decides: a teacher also holds a model's files.
  private static func recognise(_ url: URL, entries: [String]) -> OutputKind? {
    let present = Set(entries)
    let demoFolders = subfolders[.demo]!
    let isDemo =
      present.contains("demo.json")
      || (!present.isDisjoint(with: ["teacher", "registry"]) && entries.allSatisfy { demoFolders[$0] != nil })
    let markers: [(OutputKind, Bool)] = [
      (.demo, isDemo),
      (.baselineSweep, present.contains(BaselineSweep.fileName)),
      (.lottery, present.contains(LotteryCurve.fileName)),
      (
        .baseline,
        present.contains(BaselineRecord.fileName) || present.contains(BaselineTraining.theseusRegistryName)
          || trainerObjective(in: url)?.hasPrefix(BaselineTraining.objectivePrefix) == true
      ),
      (.registry, present.contains(ModuleRegistry.manifestFileName)),
      (.teacher, present.contains(TrainingCheckpoint.stateFileName)),
      (.assembly, present.contains(AssemblyReport.fileName)),
      (.model, present.contains("config.json") && !present.isDisjoint(with: [CheckpointFiles.singleFileName, CheckpointFiles.indexFileName])),
      (.report, !present.isDisjoint(with: [ComparisonReport.markdownFileName, ComparisonReport.jsonFileName])),
      (.dataset, present.contains("task.json")),
    ]
    guard let kind = markers.first(where: \.1)?.0 else { return nil }
    return fits(url, entries, kind) ? kind : nil
  }

  /// Whether every entry is a file of `kind` or one of its subfolders, of a kind it may hold.
  private static func fits(_ url: URL, _ entries: [String], _ kind: OutputKind) -> Bool {
    entries.allSatisfy { entry in
      // Module files are named by their ids; the registry's manifest says which belong.
      let isModuleFile = kind == .registry && ManifestDecoding.isPlainFileName(entry)
      // An unfinished module-training run keeps its checkpoint folder in the registry.
      if kind == .registry && entry == ModuleTraining.checkpointFolderName { return isFolder(url.appendingPathComponent(entry)) }
      // Sharded weights are named by their number (`model-00001-of-00003.safetensors`).
      let isShard = fileNames[kind]!.contains(CheckpointFiles.indexFileName) && CheckpointFiles.isShardName(entry)
      if isModuleFile || isShard || fileNames[kind]!.contains(entry) { return !isFolder(url.appendingPathComponent(entry)) }
      // A lottery run's members are its stages and rounds (`dense`, `round-2`).
      if kind == .lottery { return LotteryTicket.isMember(entry, in: url) }
      // A sweep's members are named by method and ratio (`kd-2x`).
      if kind == .baselineSweep {
        switch inspect(url.appendingPathComponent(entry)) {
        case .emptyFolder, .tessera(.baseline): return true
        default: return false
        }
      }
      guard let allowed = subfolders[kind]?[entry] else { return false }
      let sub = url.appendingPathComponent(entry)
      if allowed.isEmpty { return holdsOnlyModels(sub) }
      switch inspect(sub) {
      case .emptyFolder: return true
      case .tessera(let found): return allowed.contains(found)
      default: return false
      }
    }
  }

  /// A folder of saved assemblies (`compare --save-models`).
  private static func holdsOnlyModels(_ url: URL) -> Bool {
    guard isFolder(url) else { return false }
    let entries = ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter { !isTesseraLeftover($0) }
    return entries.allSatisfy { entry in
      switch inspect(url.appendingPathComponent(entry)) {
      case .tessera(.assembly), .tessera(.model), .emptyFolder: true
      default: false
      }
    }
  }

  /// The objective a checkpoint's `trainer_state.json` names, nil without one
  /// (read leniently: only recognising depends on it; resuming reads it strictly).
  private static func trainerObjective(in url: URL) -> String? {
    let state = url.appendingPathComponent(TrainingCheckpoint.stateFileName)
    guard let data = try? Data(contentsOf: state),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["objective"] as? String
  }

  /// Hidden temporaries of interrupted atomic writes and folder swaps, which
  /// the next successful write cleans up.
  static func isTesseraLeftover(_ name: String) -> Bool {
    name.hasPrefix(".") && [".tmp-", ".partial-", ".old-"].contains { name.contains($0) }
  }

  private static func isFolder(_ url: URL) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
  }

  /// `url` absolute, standardised and with symbolic links resolved.
  private static func resolved(_ url: URL) -> URL { url.standardizedFileURL.resolvingSymlinksInPath() }

  private static func isSameOrAncestor(_ folder: URL, of other: URL) -> Bool {
    let (a, b) = (folder.path, other.path)
    return a == b || a == "/" || b.hasPrefix(a.hasSuffix("/") ? a : a + "/")
  }
}

/// An output path a command may not write, naming the path and why.
public struct OutputFolderError: LocalizedError, CustomStringConvertible, Equatable {
  /// The path as the command was given it.
  public let path: String
  /// What the command writes; nil when the path cannot be written at all.
  public let kind: OutputKind?
  public let reason: String

  public init(path: String, kind: OutputKind?, reason: String) {
    self.path = path
    self.kind = kind
    self.reason = reason
  }

  public var description: String {
    if let kind { return "refusing to write \(kind.noun) to '\(path)': \(reason)" }
    return "cannot write '\(path)': \(reason)"
  }

  public var errorDescription: String? { description }
}
