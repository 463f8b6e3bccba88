import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers

/// The objective of a baseline student trained directly (scratch, sft, kd,
/// pseudo-labels): the teacher's cross-entropy objective on the student, or,
/// with `distillation`, the kd loss. Its kind names the method, so a baseline
/// checkpoint never resumes a teacher or another method. Validation, weights
/// and checkpoints are the cross-entropy objective's: a checkpoint is a
/// complete model folder, plus `keptFiles` (a pseudo-label cache kept in the
/// folder, which every checkpoint swap would otherwise drop).
final class StudentObjective: TrainingObjective {
  let student: CrossEntropyObjective
  private(set) var distillation: StudentDistillation?
  let kind: String
  let keptFiles: [String: Data]

  init(student: CrossEntropyObjective, method: BaselineMethod, distillation: StudentDistillation?, keptFiles: [String: Data] = [:]) {
    self.student = student
    self.distillation = distillation
    kind = BaselineTraining.objectivePrefix + method.rawValue
    self.keptFiles = keptFiles
  }

  var trainable: any ParameterContainer { student.model }
  var inputModel: any Seq2SeqModel { student.model }
  var counters: [String: Int] {
    get { student.counters }
    set { student.counters = newValue }
  }

  func join(_ communicator: any Communicator) {
    distillation?.normalizers = ShardNormalizers(communicator)
  }

  func loss(step: Int, batch: Seq2SeqBatch) -> ObjectiveLoss {
    guard let distillation else { return student.loss(step: step, batch: batch) }
    distillation.normalizers.start(batch)
    return distillation.loss(
      student: student.model, batch: batch, dropout: student.dropout(step: step, rows: batch.rows).closure, labelSmoothing: student.labelSmoothing)
  }

  func validationLoss(_ batches: [Seq2SeqBatch]) -> Float? { student.validationLoss(batches) }

  func writeCheckpoint(into folder: URL) throws {
    try student.writeCheckpoint(into: folder)
    for (name, data) in keptFiles { try AtomicFile.write(data, to: folder.appendingPathComponent(name)) }
  }

  func restoreCheckpoint(from folder: URL) throws { try student.restoreCheckpoint(from: folder) }
}

/// kd's loss: `w_ce·CE + w_kl·T²·KL(teacher ‖ student) + w_hidden·hidden`,
/// where `hidden` is the mean, over every layer of both student stacks, of the
/// layer's output against the teacher's hidden state after the teacher layer
/// it maps to, relative to the teacher's mean square (the error module
/// distillation uses). Student layer `i` stands for the teacher span ending
/// at `layerMap[i]`. The frozen teacher runs once per batch without gradients.
struct StudentDistillation {
  let teacher: any Seq2SeqModel
  let layerMap: (encoder: [Int], decoder: [Int])
  let temperature: Float
  let weights: StudentDistillationWeights
  /// Where several processes share a step, the hidden-state divisors are summed over them.
  var normalizers = ShardNormalizers()

  func loss(
    student: any Seq2SeqModel, batch: Seq2SeqBatch, dropout: ((Tensor) -> Tensor)?, labelSmoothing: Float
  ) -> ObjectiveLoss {
    let teacherEncoder = StackTaps(), teacherDecoder = StackTaps()
    let teacherLogits = withoutGradient { teacher.forward(batch, encoderTaps: teacherEncoder, decoderTaps: teacherDecoder) }
    let studentEncoder = StackTaps(), studentDecoder = StackTaps()
    let logits = student.forward(batch, encoderTaps: studentEncoder, decoderTaps: studentDecoder, dropout: dropout)

    let crossEntropy = student.loss(logits: logits, batch: batch, labelSmoothing: labelSmoothing)
    let vocabulary = student.vocabularySize
    let distillation = logits.reshaped([-1, vocabulary]).klDivergence(
      teacherLogits: teacherLogits.reshaped([-1, vocabulary]), temperature: temperature, rowMask: batch.labels.map { $0 != -100 })
    let (b, s, t) = (batch.batchSize, batch.sourceLength, batch.targetLength)
    let encoderMask = Tensor(batch.sourceKeep, shape: [b, s, 1])
    let decoderMask = Tensor(batch.labelKeep, shape: [b, t, 1])
    let terms =
      hiddenErrors(studentEncoder, teacherEncoder, map: layerMap.encoder, mask: encoderMask)
      + hiddenErrors(studentDecoder, teacherDecoder, map: layerMap.decoder, mask: decoderMask)
    var total = crossEntropy.scaled(by: weights.crossEntropy) + distillation.scaled(by: weights.logits)
    var hiddenValue: Float = 0
    if let first = terms.first {
      let mean = terms.dropFirst().reduce(first, +).scaled(by: 1 / Float(terms.count))
      hiddenValue = mean.item()
      total = total + mean.scaled(by: weights.hidden)
    }
    return ObjectiveLoss(
      total: total,
      metrics: [
        TrainingMetric("ce", crossEntropy.item()), TrainingMetric("kl", distillation.item()),
        TrainingMetric("hidden", hiddenValue),
      ])
  }

  /// One relative error per student layer: its output (`hiddenStates[i + 1]`)
  /// against the teacher's output of layer `map[i]` (`hiddenStates[map[i] + 1]`).
  func hiddenErrors(_ student: StackTaps, _ teacher: StackTaps, map: [Int], mask: Tensor) -> [Tensor] {
    map.enumerated().compactMap { index, layer in
      guard student.hiddenStates.indices.contains(index + 1), teacher.hiddenStates.indices.contains(layer + 1) else { return nil }
      return HybridDistillation.relativeError(
        student.hiddenStates[index + 1], teacher.hiddenStates[layer + 1], mask: mask, divisor: normalizers.divisor)
    }
  }
}
