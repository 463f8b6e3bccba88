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
    to folder: URL, tokenizer: (any TextTokenizer)? = nil, registryFingerprint: String?, teacherFingerprint: String?,
    format: WeightFileFormat = WeightFileFormat(), extraFiles: [String: Data] = [:]
  ) throws -> (model: any Seq2SeqModel, report: AssemblyReport) {
    let model = try assemble(teacher: teacher, plan: planned.plan, loadBlock: loadBlock)
    let costs = LayerCosts(teacher: teacher)
    var sized = planned
    sized.cost = costs.cost(ofModel: model)  // what the model holds, whatever the catalog said
    let report = AssemblyReport(
      sized, costs: costs, registryFingerprint: registryFingerprint, teacherFingerprint: teacherFingerprint)
    var files = extraFiles
    files[AssemblyReport.fileName] = try report.jsonData()
    try ModelExport.save(model, to: folder, tokenizer: tokenizer, extraFiles: files, format: format)
    return (model, report)
  }
}

/// What ``Assembler/run(_:warn:)`` assembles and where it writes it.
public struct AssemblyParameters {
  public var registryFolder: URL
  /// The teacher's folder; nil: the one the registry names.
  public var teacherFolder: URL?
  /// A strategy with a budget, or a plan given in full.
  public var recipe: AssemblyRecipe
  /// Names the recipe in errors: its file, or where the request came from.
  public var recipeSource: String
  /// The model folder to write; an existing one must be an assembly Tessera wrote.
  public var out: URL
  /// Measure the registry's latency profile again instead of using the kept one.
  public var remeasureLatency: Bool
  /// Let `out` replace another kind of Tessera output (never anything else).
  public var force: Bool
  /// Element type and shard size of the written weights.
  public var format: WeightFileFormat

  public init(
    registryFolder: URL, teacherFolder: URL? = nil, recipe: AssemblyRecipe, recipeSource: String, out: URL,
    remeasureLatency: Bool = false, force: Bool = false, format: WeightFileFormat = WeightFileFormat()
  ) {
    self.force = force
    self.format = format
    self.registryFolder = registryFolder
    self.teacherFolder = teacherFolder
    self.recipe = recipe
    self.recipeSource = recipeSource
    self.out = out
    self.remeasureLatency = remeasureLatency
  }
}

/// What ``Assembler/run(_:warn:)`` made.
public struct AssemblyOutcome {
  public var model: any Seq2SeqModel
  public var teacher: any Seq2SeqModel
  public var planned: PlannedAssembly
  public var report: AssemblyReport
  /// The registry's latency profile the planner used, and whether this run measured it.
  public var latencyProfile: LatencyProfile?
  public var isNewLatencyProfile: Bool
}

extension Assembler {
  /// The whole of `tessera assemble`: loads the registry and its teacher
  /// (checking the fingerprint), plans the recipe with the same planner and
  /// latency profile as ``Comparison``, and writes the model folder with
  /// `assembly.json`. `out` is checked before any work.
  public static func run(_ parameters: AssemblyParameters, warn: (String) -> Void = { _ in }) throws -> AssemblyOutcome {
    try checkReplaceable(
      parameters.out, force: parameters.force,
      reading: [parameters.registryFolder] + (parameters.teacherFolder.map { [$0] } ?? []))
    let planning = try PlanningContext.load(
      registryFolder: parameters.registryFolder, teacherFolder: parameters.teacherFolder,
      latency: parameters.remeasureLatency ? .remeasure : .keptProfile, warn: warn)
    let planned = try parameters.recipe.resolve(with: planning.planner, source: parameters.recipeSource)
    let tokenizer = planning.teacherFolder.flatMap { try? loadTokenizer(from: $0) }
    let (model, report) = try assemble(
      planned, teacher: planning.teacher, loadBlock: planning.loadBlock, to: parameters.out, tokenizer: tokenizer,
      registryFingerprint: try planning.registry.fingerprint(), teacherFingerprint: planning.teacherFingerprint,
      format: parameters.format, extraFiles: try ModelExport.generationConfigCopy(from: planning.teacherFolder, for: planning.teacher))
    return AssemblyOutcome(
      model: model, teacher: planning.teacher, planned: planned, report: report, latencyProfile: planning.latencyProfile,
      isNewLatencyProfile: planning.isNewLatencyProfile)
  }

  /// Throws unless `folder` may receive an assembly: missing, empty, an
  /// assembly Tessera wrote, or (with `force`) another of its outputs.
  public static func checkReplaceable(_ folder: URL, force: Bool = false, reading inputs: [URL] = []) throws {
    try OutputFolder.claim(folder, as: .assembly, force: force, reading: inputs)
  }

}
