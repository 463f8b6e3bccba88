import Foundation
import NeuralLayers
import TensorCore
import Tokenizers

/// The resumable state of a training run besides its weights.
public struct TrainerState: Codable, Sendable, Equatable {
  public var step: Int
  /// Training loss of every step taken so far (index = step − 1).
  public var losses: [Float]
  /// (step, loss) of each validation.
  public var validations: [ValidationRecord]
  /// The parameters the run was started with, to refuse resuming with others.
  public var fingerprint: String

  public init(step: Int = 0, losses: [Float] = [], validations: [ValidationRecord] = [], fingerprint: String) {
    self.step = step
    self.losses = losses
    self.validations = validations
    self.fingerprint = fingerprint
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

/// A checkpoint folder: the model as a reference-format folder
/// (`config.json`, `model.safetensors`), `optimizer.safetensors` and
/// `trainer_state.json`. The folder is replaced as a whole, so a run killed
/// mid-write leaves the previous checkpoint intact.
public enum TrainingCheckpoint {
  public static func save(
    model: any Seq2SeqModel, optimizer: AdamW, state: TrainerState, to folder: URL, tokenizer: (any TextTokenizer)? = nil
  ) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var files: [String: Data] = [:]
    files["trainer_state.json"] = try encoder.encode(state)
    files["optimizer.safetensors"] = try SafeTensorsFile(tensors: optimizer.state()).serialized()
    try ModelExport.save(model, to: folder, tokenizer: tokenizer, extraFiles: files)
  }

  /// Whether `folder` holds a complete checkpoint.
  public static func exists(at folder: URL) -> Bool {
    ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"].allSatisfy {
      FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
    }
  }

  /// Restores weights and optimizer state into `model` and `optimizer`; returns the trainer state.
  public static func restore(into model: any Seq2SeqModel, optimizer: AdamW, from folder: URL) throws -> TrainerState {
    guard exists(at: folder) else { throw ModelFolderError.missingFile(folder.appendingPathComponent("trainer_state.json").path) }
    let weightsURL = folder.appendingPathComponent("model.safetensors")
    try ModelLoading.load(SafeTensorsFile.read(from: weightsURL).tensors, into: model, source: weightsURL.path)
    let optimizerURL = folder.appendingPathComponent("optimizer.safetensors")
    try optimizer.loadState(SafeTensorsFile.read(from: optimizerURL).tensors, source: optimizerURL.path)
    let stateURL = folder.appendingPathComponent("trainer_state.json")
    do {
      return try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: stateURL))
    } catch let error as DecodingError {
      throw ModelFolderError.invalidConfiguration(file: stateURL.path, reason: ModelLoading.describe(error))
    }
  }
}
