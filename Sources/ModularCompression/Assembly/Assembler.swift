import Foundation
import Seq2SeqModels
import Tokenizers

/// Builds assembled models: a copy of the teacher whose stacks hold the
/// plan's teacher layers and modules.
public enum Assembler {
  /// The model `plan` describes. The teacher is left unchanged: the result is
  /// built from a copy of its weights, and each loaded module is copied too,
  /// so nothing is shared with the teacher or the loader.
  public static func assemble(
    teacher: any Seq2SeqModel, plan: AssemblyPlan, loadBlock: (ModuleSpan) throws -> any TransformerBlock
  ) throws -> any Seq2SeqModel {
    let encoderDepth = teacher.encoder.depth, decoderDepth = teacher.decoder.depth
    guard plan.isCover(encoderDepth: encoderDepth, decoderDepth: decoderDepth) else {
      throw AssemblyError.invalidPlan(
        "'\(plan.summary)' does not cover the teacher's \(encoderDepth) encoder and \(decoderDepth) decoder layers")
    }
    let model = try ModelLoading.makeModel(configuration: teacher.configurationJSON(), source: "teacher configuration")
    try model.loadStateDictionary(teacher.stateDictionary(), source: "teacher weights")
    for stack in [model.encoder, model.decoder] {
      let layers = stack.blocks
      stack.blocks = try plan.pieces(stack.role).map { piece in
        switch piece {
        case .teacher(let layer): return layers[layer]
        case .module(let span):
          let block = try loadBlock(span).copy()
          guard type(of: block) == type(of: layers[span.start]) else {
            throw AssemblyError.incompatibleBlock(
              module: span.id, reason: "it is a \(type(of: block)); the teacher's \(stack.role.rawValue) layers are \(type(of: layers[span.start]))")
          }
          return block
        }
      }
    }
    return model
  }

  /// Assembles `planned.plan` and writes the model folder: `config.json`,
  /// `model.safetensors`, the tokenizer when given, and `assembly.json`. The
  /// folder is written whole or not at all. Returns the model and its report.
  @discardableResult
  public static func assemble(
    _ planned: PlannedAssembly, teacher: any Seq2SeqModel, loadBlock: (ModuleSpan) throws -> any TransformerBlock,
    to folder: URL, tokenizer: (any TextTokenizer)? = nil, registryFingerprint: String?, teacherFingerprint: String?
  ) throws -> (model: any Seq2SeqModel, report: AssemblyReport) {
    let model = try assemble(teacher: teacher, plan: planned.plan, loadBlock: loadBlock)
    let report = AssemblyReport(
      planned, costs: LayerCosts(teacher: teacher), registryFingerprint: registryFingerprint,
      teacherFingerprint: teacherFingerprint)
    try ModelExport.save(model, to: folder, tokenizer: tokenizer, extraFiles: [AssemblyReport.fileName: report.jsonData()])
    return (model, report)
  }
}
