import Foundation
import NeuralLayers
import Seq2SeqModels

/// `compare --transforms FILE` and `compare --quantize int8,bf16`: a copy of
/// the teacher and of every assembly row put through each transform chain,
/// measured like any row. A chain that only quantizes makes a row of kind
/// `quantized` (method the scheme, labelled like `size-first 2× int8`); any
/// other chain a row of kind `transformed` (method the chain, `ae 2× → int8`).
/// Each row builds its source row's model, copies it and transforms the
/// copy, so the source row is unchanged and the ratios show what the chain
/// stacks on the assembly's own.
enum TransformRows {
  static let quantizedKind = "quantized"
  static let transformedKind = "transformed"

  /// Rows with equal identities share one measured model.
  struct Identity: Hashable {
    let source: AnyHashable
    let chain: [TransformStage]
  }

  /// The chains `settings` asks for: one per `--quantize` scheme, then `--transforms`.
  static func chains(of settings: ComparisonSettings) -> [[TransformStage]] {
    settings.quantize.map { [.quantize(QuantizationSettings(scheme: $0))] } + settings.transforms
  }

  /// The method a row of `chain` carries: its stages' summaries in order.
  static func method(of chain: [TransformStage]) -> String { chain.map(\.summary).joined(separator: " → ") }

  /// The transformed rows of `entries`' teacher and assembly rows, chain by
  /// chain. Fisher-weighted stages calibrate on `context`'s validation examples.
  static func derive(from entries: [CandidateRow], chains: [[TransformStage]], context: ComparisonContext) -> [CandidateRow] {
    let sources = entries.filter { $0.row.isTeacher || $0.row.kind == AssemblyCandidate.kind }
    let validation = context.validationExamples, tokenizer = context.tokenizer
    return chains.flatMap { chain in
      let onlyQuantizes = chain.count == 1 && { if case .quantize = chain[0] { true } else { false } }()
      return sources.map { source in
        var row = ComparisonRow(
          kind: onlyQuantizes ? quantizedKind : transformedKind, label: "\(source.row.label) \(method(of: chain))",
          method: method(of: chain), requestedRatio: source.row.requestedRatio)
        (row.plan, row.skipped) = (source.row.plan, source.row.skipped)
        guard let build = source.build, let identity = source.identity else {
          return CandidateRow(row: row, identity: nil, build: nil)
        }
        return CandidateRow(row: row, identity: Identity(source: identity, chain: chain)) { _ in
          var model = try ModelLoading.copy(of: try build(nil).model)
          for stage in chain {
            var calibration: TokenizedExamples?
            if case .compress(let settings) = stage, settings.method.needsCalibration {
              calibration = TokenizedExamples(Array(validation.prefix(settings.calibration)), tokenizer: tokenizer)
            }
            model = try stage.applied(to: model, calibration: calibration)
          }
          return BuiltCandidate(model: model)
        }
      }
    }
  }
}
