import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers

/// One kind of model a comparison measures against the teacher. Each kind
/// supplies its own rows (with how to build each row's model); the
/// comparison measures them, and the report and the plot show any kind
/// without knowing it.
public protocol ComparisonCandidate {
  /// The rows this kind adds, in order; a row that cannot be made carries the reason in `skipped`.
  func rows(in context: ComparisonContext) -> [CandidateRow]
}

/// What candidates make their rows and models from.
public struct ComparisonContext {
  public let teacher: any Seq2SeqModel
  public let registry: ModuleRegistry
  /// The planner every command uses for this teacher and registry.
  public let planner: AssemblyPlanner
  public let teacherFingerprint: String
  public let registryFingerprint: String?
  public let tokenizer: any TextTokenizer
  public let settings: ComparisonSettings
  /// Held-out examples candidates may choose by (never the test examples the rows are measured on).
  public let validationExamples: [Example]
  /// Files a saved model carries from the teacher's folder (its checked `generation_config.json`).
  public var savedModelFiles: [String: Data] = [:]
}

/// A row and how to build its model.
public struct CandidateRow {
  public var row: ComparisonRow
  /// Rows with equal identities are the same model, measured once; nil when skipped.
  public var identity: AnyHashable?
  /// Builds the model; given a folder, a kind that saves its models writes one there.
  public var build: ((_ saveTo: URL?) throws -> BuiltCandidate)?

  public init(row: ComparisonRow, identity: AnyHashable?, build: ((URL?) throws -> BuiltCandidate)?) {
    self.row = row
    self.identity = identity
    self.build = build
  }

  /// A row whose model comes from a plan of teacher layers and modules;
  /// `makePlan` may note predictions on the row, and its error skips the row.
  public static func planned(
    _ row: ComparisonRow, plan makePlan: (inout ComparisonRow) throws -> AssemblyPlan,
    build: @escaping (AssemblyPlan, URL?) throws -> BuiltCandidate
  ) -> CandidateRow {
    var row = row
    do {
      let plan = try makePlan(&row)
      row.plan = plan.summary
      return CandidateRow(row: row, identity: plan) { try build(plan, $0) }
    } catch {
      row.skipped = "\(error)"
      return CandidateRow(row: row, identity: nil, build: nil)
    }
  }
}

/// A built candidate model.
public struct BuiltCandidate {
  public var model: any Seq2SeqModel
  /// Called with the measured row (e.g. to record the measured speedup in a saved folder).
  public var afterMeasuring: ((ComparisonRow) throws -> Void)?

  public init(model: any Seq2SeqModel, afterMeasuring: ((ComparisonRow) throws -> Void)? = nil) {
    self.model = model
    self.afterMeasuring = afterMeasuring
  }
}

/// The teacher itself: the reference row.
public struct TeacherCandidate: ComparisonCandidate {
  public init() {}

  public func rows(in context: ComparisonContext) -> [CandidateRow] {
    let costs = context.planner.costs
    var row = ComparisonRow(kind: ComparisonRow.teacherKind)
    row.plan = "all \(costs.encoderDepth)+\(costs.decoderDepth) teacher layers"
    let plan = AssemblyPlan.teacher(encoderDepth: costs.encoderDepth, decoderDepth: costs.decoderDepth)
    return [CandidateRow(row: row, identity: plan) { _ in BuiltCandidate(model: context.teacher) }]
  }
}

/// Assemblies from the registry's modules, one per (ratio, strategy) of the settings.
public struct AssemblyCandidate: ComparisonCandidate {
  public static let kind = "assembly"

  public init() {}

  public func rows(in context: ComparisonContext) -> [CandidateRow] {
    let settings = context.settings
    return settings.ratios.flatMap { ratio in
      settings.strategies.map { strategy in
        let row = ComparisonRow(kind: Self.kind, method: strategy.rawValue, requestedRatio: ratio)
        return CandidateRow.planned(row) { row in
          let planned = try context.planner.plan(strategy: strategy, ratio: ratio)
          (row.predictedLossIncrease, row.estimatedSpeedup) = (planned.predictedLossIncrease, planned.estimatedSpeedup)
          return planned.plan
        } build: { plan, folder in
          var planned = context.planner.evaluate(plan)
          (planned.strategy, planned.budget) = (strategy, .layerParameterRatio(ratio))
          return try Self.build(planned, in: context, saveTo: folder)
        }
      }
    }
  }

  /// The model of `planned`; given a folder, also written there with `assembly.json`
  /// (its strategy and budget from `planned`), which records the measured cost afterwards
  /// and `recordedStrategy`, when given, as the strategy (a choice that is no ``AssemblyStrategy``).
  static func build(
    _ planned: PlannedAssembly, in context: ComparisonContext, saveTo folder: URL?, recordedStrategy: String? = nil
  ) throws -> BuiltCandidate {
    let (registry, teacher, fingerprint) = (context.registry, context.teacher, context.teacherFingerprint)
    let loadBlock = { (span: ModuleSpan) in try registry.loadBlock(span, for: teacher, teacherFingerprint: fingerprint) }
    guard let folder else { return BuiltCandidate(model: try Assembler.assemble(teacher: teacher, plan: planned.plan, loadBlock: loadBlock)) }
    let model = try Assembler.assemble(
      planned, teacher: teacher, loadBlock: loadBlock, to: folder, tokenizer: context.tokenizer,
      registryFingerprint: context.registryFingerprint, teacherFingerprint: fingerprint, extraFiles: context.savedModelFiles
    ).model
    return BuiltCandidate(model: model) { measured in
      guard let cost = measured.cost else { return }
      var saved = try AssemblyReport.load(from: folder)
      saved.cost = cost
      if let recordedStrategy { saved.strategy = recordedStrategy }
      try saved.write(into: folder)
    }
  }
}

/// The layer-dropping baseline at each ratio (``LayerDropping``).
public struct LayerDroppingCandidate: ComparisonCandidate {
  public static let kind = "layer-dropping"

  public init() {}

  public func rows(in context: ComparisonContext) -> [CandidateRow] {
    context.settings.ratios.map { ratio in
      CandidateRow.planned(ComparisonRow(kind: Self.kind, label: ComparisonRow.defaultLabel(name: "layer-drop", requestedRatio: ratio), requestedRatio: ratio)) { _ in
        try StudentShape.plan(costs: context.planner.costs, ratio: ratio)
      } build: { plan, _ in
        BuiltCandidate(model: try LayerDropping.apply(plan, to: context.teacher))
      }
    }
  }
}
