import Foundation
import NeuralLayers
import TensorCore
import Tokenizers

/// Teacher training: teacher-forced cross-entropy (with label smoothing) of
/// the whole model, dropout masks drawn from the step. Its checkpoint is a
/// complete model folder.
public final class CrossEntropyObjective: TrainingObjective {
  public let model: any Seq2SeqModel
  public var inputModel: any Seq2SeqModel { model }
  public let labelSmoothing: Float
  public let dropoutRate: Float
  public let seed: UInt64
  /// Saved with every checkpoint, so that each is a usable model folder.
  public let tokenizer: (any TextTokenizer)?
  public var counters: [String: Int] = [:]

  public init(model: any Seq2SeqModel, parameters: TrainingParameters, tokenizer: (any TextTokenizer)? = nil) {
    self.model = model
    labelSmoothing = parameters.labelSmoothing
    dropoutRate = parameters.dropout ?? model.dropoutRate
    seed = parameters.seed
    self.tokenizer = tokenizer
  }

  public var kind: String { "teacher" }
  public var trainable: any ParameterContainer { model }

  public func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss {
    let logits = model.forward(batch, dropout: dropout(step: step, rows: batch.rows).closure)
    return ObjectiveLoss(total: model.loss(logits: logits, batch: batch, labelSmoothing: labelSmoothing))
  }

  /// The dropout of `step`: masks depend only on (seed, step), so resumed
  /// runs draw the same ones. Objectives that train this model otherwise (a
  /// kd student) draw theirs here too.
  /// `rows` places a process's share of the batch in the whole one (data-parallel steps).
  public func dropout(step: Int, rows: BatchRows? = nil) -> Dropout {
    Dropout(rate: dropoutRate, generator: SeededRandom(seed: seed, stream: 7).split(UInt64(step)), rows: rows)
  }

  /// Token-weighted mean cross-entropy (no smoothing, no dropout).
  public func validationLoss(_ batches: [Seq2SeqBatch]) -> Float? {
    var total: Double = 0, tokens = 0
    for batch in batches {
      let count = batch.countedTargets
      total += Double(model.loss(logits: model.forward(batch), batch: batch).item()) * Double(count)
      tokens += count
    }
    return tokens > 0 ? Float(total / Double(tokens)) : nil
  }

  public func writeCheckpoint(into folder: URL) throws {
    try ModelExport.writeModelFiles(model, into: folder, tokenizer: tokenizer)
  }

  public func restoreCheckpoint(from folder: URL) throws {
    let url = folder.appendingPathComponent("model.safetensors")
    guard FileManager.default.fileExists(atPath: url.path) else { throw ModelFolderError.missingFile(url.path) }
    try ModelLoading.load(SafeTensorsFile.read(from: url).tensors, into: model, source: url.path)
  }
}
