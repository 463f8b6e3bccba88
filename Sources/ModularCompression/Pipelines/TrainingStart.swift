import Foundation
import Seq2SeqModels
import TensorCore

/// How a training pipeline treats what an earlier run left in its output.
public enum TrainingStart: Sendable, Equatable {
  /// A new run; refused when the output already holds a run (trained or not).
  case fresh
  /// Continue the checkpoint in the output (a finished run only finishes what is left, e.g. the probe).
  case resume
  /// Discard Tessera's own earlier run in the output and start over; other files are never replaced.
  case restart
}

/// A training run that would lose or ignore what is already on disk.
public struct TrainingStartError: Error, CustomStringConvertible, Equatable {
  public enum Kind: Sendable, Equatable {
    /// The output holds an earlier run: resume it or restart.
    case earlierRun
    /// Resuming was asked for but there is nothing to resume.
    case nothingToResume
    /// The output holds something Tessera did not write; even a restart keeps it.
    case foreignOutput
  }

  public let kind: Kind
  public let path: String
  public let reason: String

  public var description: String { "\(path): \(reason)" }
}

/// The output-folder rules of the training pipelines.
enum TrainingOutput {
  /// The files Tessera writes into a model or checkpoint folder: those of
  /// teachers, assemblies and baselines, and a module run's weights.
  static let ownFileNames: Set<String> =
    Set(
      OutputFolder.fileNames[.teacher, default: []] + OutputFolder.fileNames[.assembly, default: []]
        + OutputFolder.fileNames[.baseline, default: []])
    .union(["generation_config.json", ModuleDistillationObjective.modulesFileName])

  /// Checks `folder` (a teacher's output, or a module run's checkpoint) against
  /// `start`; returns whether a checkpoint should be resumed. Nothing is
  /// removed here, and a restart is refused over anything Tessera did not write.
  static func prepare(_ folder: URL, start: TrainingStart, what: String) throws -> Bool {
    let fileManager = FileManager.default
    AtomicFolder.recover(folder)
    var isFolder: ObjCBool = false
    guard fileManager.fileExists(atPath: folder.path, isDirectory: &isFolder) else {
      if start == .resume {
        throw TrainingStartError(kind: .nothingToResume, path: folder.path, reason: "no \(what) checkpoint to resume")
      }
      return false
    }
    guard isFolder.boolValue else {
      throw TrainingStartError(
        kind: .foreignOutput, path: folder.path, reason: "is a file, not a \(what) folder; it is left alone: choose another output")
    }
    let names = try fileManager.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
    if let foreign = names.sorted().first(where: { !ownFileNames.contains($0) }) {
      throw TrainingStartError(
        kind: .foreignOutput, path: folder.path,
        reason: "holds '\(foreign)', which Tessera did not write; it is left alone: choose another output")
    }
    if names.isEmpty {
      if start == .resume {
        throw TrainingStartError(kind: .nothingToResume, path: folder.path, reason: "no \(what) checkpoint to resume")
      }
      return false
    }
    switch start {
    case .resume:
      return true
    case .fresh:
      throw TrainingStartError(kind: .earlierRun, path: folder.path, reason: "already holds a \(what) run (trained or not)")
    case .restart:
      // Left in place: the first checkpoint replaces it whole, so a run killed before then loses nothing.
      return false
    }
  }
}
