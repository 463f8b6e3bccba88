import Foundation
import NeuralLayers
import TensorCore

/// The resumable state of a training run besides its weights.
public struct TrainerState: Codable, Sendable, Equatable {
  /// Checkpoints without it (or with another) were written by another Tessera and are not resumed.
  public static let currentFormatVersion = 2

  public var formatVersion = TrainerState.currentFormatVersion
  /// The ``TrainingObjective/kind`` that wrote it.
  public var objective: String
  public var step: Int
  /// Training loss of every step this run took (index = step − 1 − (firstStep ?? 0)).
  public var losses: [Float]
  /// The step a run started after, when not 0 (``TrainingLoop/start(afterStep:)``); nil is not written.
  public var firstStep: Int?
  /// (step, loss) of each validation.
  public var validations: [ValidationRecord]
  /// Settings, model and data the run started with; resuming with others is refused.
  public var fingerprint: String
  /// The objective's counters (e.g. steps per module).
  public var counters: [String: Int]
  /// Source and target tokens trained on so far (pads not counted), over every resume.
  public var tokens = 0
  /// Seconds spent in training steps so far (validation included, checkpoint writes not), over every resume.
  public var seconds: Double = 0

  public init(
    objective: String, step: Int = 0, losses: [Float] = [], validations: [ValidationRecord] = [], fingerprint: String,
    counters: [String: Int] = [:]
  ) {
    self.objective = objective
    self.step = step
    self.losses = losses
    self.validations = validations
    self.fingerprint = fingerprint
    self.counters = counters
  }

  enum CodingKeys: String, CodingKey {
    case formatVersion = "format_version", objective, step, losses, validations, fingerprint, counters, tokens, seconds
    case firstStep = "first_step"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    formatVersion = try c.decode(Int.self, forKey: .formatVersion)
    objective = try c.decode(String.self, forKey: .objective)
    step = try c.decode(Int.self, forKey: .step)
    losses = try c.decode([Float].self, forKey: .losses)
    validations = try c.decode([ValidationRecord].self, forKey: .validations)
    fingerprint = try c.decode(String.self, forKey: .fingerprint)
    counters = try c.decode([String: Int].self, forKey: .counters)
    // Checkpoints written before the training-cost ledger have neither.
    tokens = try c.decodeIfPresent(Int.self, forKey: .tokens) ?? 0
    seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
    firstStep = try c.decodeIfPresent(Int.self, forKey: .firstStep)
  }
}

public struct ValidationRecord: Codable, Sendable, Equatable {
  public var step: Int
  public var loss: Float
  public init(step: Int, loss: Float) {
    self.step = step
    self.loss = loss
  }
}

/// The one checkpoint format of ``TrainingLoop``: a folder holding
/// `trainer_state.json`, `optimizer.safetensors` and the objective's own files
/// (a teacher's checkpoint is its model folder). The folder is replaced whole
/// (``AtomicFolder``), so a run killed at any point leaves a complete checkpoint.
public enum TrainingCheckpoint {
  public static let stateFileName = "trainer_state.json"
  public static let optimizerFileName = "optimizer.safetensors"

  /// Whether `folder` holds a checkpoint (of any version), after bringing back
  /// a folder that a killed swap left missing.
  public static func exists(at folder: URL) -> Bool {
    AtomicFolder.recover(folder)
    return FileManager.default.fileExists(atPath: folder.appendingPathComponent(stateFileName).path)
  }

  /// Writes the checkpoint of a run into `folder`, replacing the previous one whole.
  static func write(state: TrainerState, objective: any TrainingObjective, optimizer: AdamW, to folder: URL) throws {
    let stateData = try encodedState(state)
    try ModelExport.writeFolder(folder) { staging in
      try objective.writeCheckpoint(into: staging)
      try SafeTensorsFile(tensors: optimizer.state()).write(to: staging.appendingPathComponent(optimizerFileName))
      try AtomicFile.write(stateData, to: staging.appendingPathComponent(stateFileName))
    }
  }

  /// The bytes of `trainer_state.json` for `state` (pretty-printed, sorted keys).
  public static func encodedState(_ state: TrainerState) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(state)
  }

  /// The trainer state in `folder`; a missing, unreadable or older-format state is an error naming the file.
  public static func readState(at folder: URL) throws -> TrainerState {
    let url = folder.appendingPathComponent(stateFileName)
    guard exists(at: folder) else { throw TrainingError("\(folder.path): no checkpoint to resume from (no \(stateFileName))") }
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw TrainingError("\(url.path): cannot be read") }
    let version = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["format_version"] as? Int
    guard version == TrainerState.currentFormatVersion else {
      throw TrainingError(
        "\(url.path): a checkpoint of an older Tessera (format \(version.map(String.init) ?? "1"), this one resumes "
          + "\(TrainerState.currentFormatVersion)); its weights still load as a model, but the run cannot be resumed: start over")
    }
    do {
      return try JSONDecoder().decode(TrainerState.self, from: data)
    } catch let error as DecodingError {
      throw ModelFolderError.invalidConfiguration(file: url.path, reason: ModelLoading.describe(error))
    }
  }

  /// Loads the optimizer moments saved beside the state.
  static func restoreOptimizer(_ optimizer: AdamW, from folder: URL) throws {
    let url = folder.appendingPathComponent(optimizerFileName)
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelFolderError.missingFile(url.path) }
    try optimizer.loadState(SafeTensorsFile.read(from: url).tensors, source: url.path)
  }
}
