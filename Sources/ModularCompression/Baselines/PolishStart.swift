import Foundation
import Seq2SeqModels

/// Where a polish run starts: an assembled model folder (`tessera assemble`,
/// or `compare --save-models`) of the same teacher, read with its
/// `assembly.json`. Everything is checked before a step runs, naming the file:
/// a folder that is not an assembly, one of another teacher's registry, or
/// one whose model does not have its plan's depths or the teacher's widths.
struct PolishStart {
  let model: any Seq2SeqModel
  let report: AssemblyReport
  /// SHA-256 of the start's weights, so a resume never continues from another start.
  let fingerprint: String

  /// The ratio the assembly was asked for, or what its plan reached when it was given in full.
  var ratio: Double { Self.ratio(of: report) }

  /// Per stack, the teacher layer that ends each piece's span: the layer whose
  /// output kd's hidden-state term holds each assembled layer's output against.
  var layerMap: (encoder: [Int], decoder: [Int]) { StudentShape.layerMap(of: report.plan) }

  static func ratio(of report: AssemblyReport) -> Double { report.requestedRatio ?? report.cost.layerParameterRatio }

  /// Reads and checks the start against the teacher.
  static func load(_ folder: URL?, teacher: any Seq2SeqModel, teacherFingerprint: String) throws -> PolishStart {
    guard let folder else {
      throw RecipeError(file: "--from", reason: "polish needs the assembled model it starts from (tessera assemble … --out DIR)")
    }
    let reportFile = folder.appendingPathComponent(AssemblyReport.fileName)
    guard FileManager.default.fileExists(atPath: reportFile.path) else {
      throw RecipeError(
        file: folder.path,
        reason: "not an assembled model (no \(AssemblyReport.fileName)); polish starts from the output of tessera assemble or compare --save-models")
    }
    let report = try AssemblyReport.load(from: folder)
    guard report.teacherFingerprint == teacherFingerprint else {
      throw RecipeError(
        file: reportFile.path,
        reason: "assembled from another teacher (teacher_fingerprint \(report.teacherFingerprint ?? "null"), "
          + "this teacher's is \(teacherFingerprint)); polish it against that teacher")
    }
    let ratio = Self.ratio(of: report)
    guard ratio.isFinite, ratio >= 1 else {
      throw RecipeError(
        file: reportFile.path, reason: "field 'requested_ratio' (or 'cost.layer_parameter_ratio') must be a finite number ≥ 1, got \(ratio)")
    }
    let (e, d) = (teacher.encoder.depth, teacher.decoder.depth)
    guard report.plan.isCover(encoderDepth: e, decoderDepth: d) else {
      throw RecipeError(file: reportFile.path, reason: "field 'plan' does not cover the teacher's \(e)+\(d) layers once each, in order")
    }
    let model = try ModelLoading.load(from: folder)
    let planDepths = "\(report.plan.encoder.count)+\(report.plan.decoder.count)"
    guard model.encoder.depth == report.plan.encoder.count, model.decoder.depth == report.plan.decoder.count else {
      throw RecipeError(
        file: folder.path, reason: "the model has \(model.encoder.depth)+\(model.decoder.depth) layers but its plan \(planDepths)")
    }
    guard model.vocabularySize == teacher.vocabularySize, model.modelWidth == teacher.modelWidth else {
      throw RecipeError(
        file: folder.path,
        reason: "the model's vocabulary and width (\(model.vocabularySize), \(model.modelWidth)) are not the teacher's "
          + "(\(teacher.vocabularySize), \(teacher.modelWidth)); kd compares their logits and hidden states")
    }
    return PolishStart(model: model, report: report, fingerprint: try TeacherFingerprint.of(modelFolder: folder))
  }
}
