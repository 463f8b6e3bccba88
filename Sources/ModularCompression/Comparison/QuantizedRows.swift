import Foundation
import NeuralLayers
import Seq2SeqModels

/// `compare --quantize int8,bf16`: a quantized copy of the teacher and of
/// every assembly row, measured like any row (kind `quantized`, method the
/// scheme). Each builds its source row's model, copies it and quantizes the
/// copy (``ModelQuantization``), so the source row is unchanged and the
/// bytes ratio shows what the scheme stacks on the assembly's own ratios.
enum QuantizedRows {
  static let kind = "quantized"

  /// Rows with equal identities share one measured model.
  struct Identity: Hashable {
    let source: AnyHashable
    let scheme: String
  }

  /// The quantized rows of `entries`' teacher and assembly rows, scheme by scheme.
  static func derive(from entries: [CandidateRow], schemes: [QuantizationScheme]) -> [CandidateRow] {
    let sources = entries.filter { $0.row.isTeacher || $0.row.kind == AssemblyCandidate.kind }
    return schemes.flatMap { scheme in
      sources.map { source in
        var row = ComparisonRow(
          kind: kind, label: "\(source.row.label) \(scheme.rawValue)", method: scheme.rawValue,
          requestedRatio: source.row.requestedRatio)
        (row.plan, row.skipped) = (source.row.plan, source.row.skipped)
        guard let build = source.build, let identity = source.identity else {
          return CandidateRow(row: row, identity: nil, build: nil)
        }
        return CandidateRow(row: row, identity: Identity(source: identity, scheme: scheme.rawValue)) { _ in
          let model = try ModelLoading.copy(of: try build(nil).model)
          try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: scheme))
          return BuiltCandidate(model: model)
        }
      }
    }
  }
}
