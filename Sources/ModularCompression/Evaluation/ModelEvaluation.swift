import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// Quality of a model on examples: generated-output metrics and the
/// teacher-forced loss. Codable, so reports can store it.
public struct EvaluationResult: Codable, Sendable {
  public var examples: Int
  /// Mean teacher-forced cross-entropy per target token (nats).
  public var loss: Double
  public var perplexity: Double
  public var metrics: [MetricValue]
  /// Tokens generated over all examples, end of sequence included, padding not.
  public var generatedTokens: Int
  /// Seconds spent generating.
  public var generationSeconds: Double

  /// The value of one metric by display name (`EM`, `BLEU`, …).
  public func metric(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }

  enum CodingKeys: String, CodingKey {
    case examples, loss, perplexity, metrics, generatedTokens = "generated_tokens", generationSeconds = "generation_seconds"
  }
}

/// Runs a model over examples the way `tessera evaluate` and `compare` do.
public enum ModelEvaluation {
  /// Generation with `options` (default: ``generationOptions(model:longestTarget:generation:adjust:)``
  /// without settings, greedy) in batches of `batchSize`, decoded with
  /// `tokenizer`, scored against the targets; plus the teacher-forced loss.
  /// A loss or metric that is not finite is an error
  /// (``EvaluationError``) naming `modelName` and the first example whose loss
  /// is not finite, or the metric: a NaN in a report would be a silent wrong answer.
  public static func run(
    model: any Seq2SeqModel, tokenizer: any TextTokenizer, examples: [Example], metrics: [TextMetric] = [.em, .chrf],
    batchSize: Int = 64, options: GenerationOptions? = nil, modelName: String = "the model",
    progress: (Int) -> Void = { _ in }
  ) throws -> (result: EvaluationResult, predictions: [String]) {
    guard batchSize >= 1 else { throw EvaluationError.invalidBatchSize(batchSize) }
    let data = TokenizedExamples(examples, tokenizer: tokenizer)
    let options = try options ?? generationOptions(model: model, longestTarget: data.targets.map(\.count).max() ?? 1, generation: nil)
    var predictions: [String] = []
    var generatedTokens = 0
    let start = Date()
    for first in stride(from: 0, to: data.count, by: batchSize) {
      let rows = Array(data.sources[first..<min(first + batchSize, data.count)])
      let outputs = try generate(model, sources: rows, options: options)
      predictions += outputs.map { tokenizer.decode(Array($0.dropFirst()), skipSpecialTokens: true) }
      generatedTokens += generatedTokenCount(outputs, eos: options.specialTokens?.eos ?? model.specialTokens.eos)
      progress(predictions.count)
    }
    let seconds = Date().timeIntervalSince(start)
    let loss = try teacherForcedLoss(model, data: data, modelName: modelName)
    let values = try Metrics.compute(metrics, hypotheses: predictions, references: examples.map(\.target))
    if let bad = values.first(where: { !$0.value.isFinite }) {
      throw EvaluationError.nonFiniteMetric(model: modelName, metric: bad.name, value: bad.value)
    }
    return (EvaluationResult(examples: examples.count, loss: loss.meanLoss, perplexity: loss.perplexity, metrics: values, generatedTokens: generatedTokens, generationSeconds: seconds), predictions)
  }

  /// The mean teacher-forced cross-entropy of `model` on `data`, without
  /// generating; a loss that is not finite is an error naming the example.
  public static func teacherForcedLoss(
    _ model: any Seq2SeqModel, data: TokenizedExamples, modelName: String = "the model"
  ) throws -> TokenLoss {
    var loss = TokenLoss()
    try withoutGradient {
      for batch in data.orderedBatches(tokenBudget: 4096, tokens: model.specialTokens) {
        let count = batch.countedTargets
        let batchLoss = Double(model.loss(logits: model.forward(batch), batch: batch).item())
        guard batchLoss.isFinite else { throw nonFiniteLoss(model, data: data, modelName: modelName) }
        loss.add(summedNLL: batchLoss * Double(count), tokens: count)
      }
    }
    return loss
  }

  /// The options evaluation generates with: up to the longest target plus 8
  /// tokens, then a checkpoint's `generation` settings, then `adjust` (flags).
  public static func generationOptions(
    model: any Seq2SeqModel, longestTarget: Int, generation: GenerationSettings?,
    adjust: (inout GenerationOptions) throws -> Void = { _ in }
  ) throws -> GenerationOptions {
    var options = GenerationOptions(maxNewTokens: longestTarget + 8)
    try generation?.apply(to: &options, model: model)
    try adjust(&options)
    return options
  }

  /// The error for a batch whose loss is not finite, naming its first such example.
  static func nonFiniteLoss(_ model: any Seq2SeqModel, data: TokenizedExamples, modelName: String) -> EvaluationError {
    for index in data.examples.indices {
      let batch = data.makeBatch([index], tokens: model.specialTokens)
      let value = Double(model.loss(logits: model.forward(batch), batch: batch).item())
      if !value.isFinite {
        return .nonFiniteLoss(model: modelName, example: index, source: data.examples[index].source, value: value)
      }
    }
    return .nonFiniteLoss(model: modelName, example: nil, source: nil, value: .nan)
  }

  /// Tokens generated in `outputs` (rows from ``generate(_:sources:options:)``,
  /// decoder start first): up to and including end of sequence, padding not.
  public static func generatedTokenCount(_ outputs: [[Int]], eos: Int) -> Int {
    outputs.reduce(0) { total, row in
      let generated = row.dropFirst()
      return total + (generated.firstIndex(of: eos).map { $0 - generated.startIndex + 1 } ?? generated.count)
    }
  }

}

/// An evaluation that would report a wrong number.
public enum EvaluationError: Error, LocalizedError, CustomStringConvertible, Equatable {
  /// The teacher-forced loss of `example` (0-based, with its source) is not finite.
  case nonFiniteLoss(model: String, example: Int?, source: String?, value: Double)
  case nonFiniteMetric(model: String, metric: String, value: Double)
  case invalidBatchSize(Int)

  public var description: String {
    switch self {
    case .nonFiniteLoss(let model, let example?, let source, let value):
      "\(model): the loss of example \(example) (source '\(source.map { String($0.prefix(60)) } ?? "")') is \(value); "
        + "its weights or inputs produce non-finite numbers"
    case .nonFiniteLoss(let model, nil, _, let value):
      "\(model): the loss of a batch is \(value), though every example alone is finite"
    case .nonFiniteMetric(let model, let metric, let value): "\(model): metric \(metric) is \(value)"
    case .invalidBatchSize(let size): "batch size must be at least 1, got \(size)"
    }
  }

  public var errorDescription: String? { description }
}
