import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers

/// The module quality probe: each module's validation loss and task metric
/// with only that module swapped into the teacher. The results go into the
/// registry's manifest, where the `pareto` planner reads them.
public enum ModuleProbe {
  /// Probes the teacher (the baseline) and then every module of `registry`,
  /// loading each through the registry's checks, and records the results.
  /// `progress` gets (done, total) after each model; an error it throws stops the probe.
  public static func run(
    registry: ModuleRegistry, teacher: any Seq2SeqModel, teacherFingerprint: String, tokenizer: any TextTokenizer,
    examples: [Example], metric: TextMetric = .em, progress: (Int, Int) throws -> Void = { _, _ in }
  ) throws {
    let entries = registry.entries
    let baseline = try score(teacher, tokenizer: tokenizer, examples: examples, metric: metric)
    try registry.updateTeacherValidation(baseline)
    try progress(1, entries.count + 1)
    for (done, entry) in entries.enumerated() {
      let span = entry.moduleSpan
      let block = try registry.loadBlock(span, for: teacher, teacherFingerprint: teacherFingerprint)
      let stack = span.stack == .encoder ? teacher.encoder : teacher.decoder
      let original = stack.blocks
      stack.blocks = Array(original[..<span.start]) + [block] + Array(original[span.end...])
      defer { stack.blocks = original }
      try registry.updateValidation(id: entry.id, score(teacher, tokenizer: tokenizer, examples: examples, metric: metric))
      try progress(done + 2, entries.count + 1)
    }
  }

  /// Loss and metric of `model` on `examples`, as the manifest stores them.
  static func score(
    _ model: any Seq2SeqModel, tokenizer: any TextTokenizer, examples: [Example], metric: TextMetric
  ) throws -> ModuleValidation {
    let (result, _) = try ModelEvaluation.run(model: model, tokenizer: tokenizer, examples: examples, metrics: [metric])
    let value = result.metrics.first.map { Float($0.value) }
    return ModuleValidation(loss: Float(result.loss), metric: value, metricName: result.metrics.first?.name)
  }
}
