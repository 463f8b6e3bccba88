import Foundation
import Seq2SeqModels
import TensorCore

/// What a baseline sweep is asked to do: every method at every ratio.
public struct BaselineSweepParameters {
  public var teacherFolder: URL
  /// Shared settings; each member's method and ratio replace the recipe's.
  public var recipe: BaselineRecipe
  public var methods: [BaselineMethod]
  public var ratios: [Double]
  public var output: URL
  public var start: TrainingStart
  public var communicator: any Communicator

  public init(
    teacherFolder: URL, recipe: BaselineRecipe, methods: [BaselineMethod], ratios: [Double], output: URL,
    start: TrainingStart = .fresh, communicator: any Communicator = SingleProcessCommunicator()
  ) {
    self.teacherFolder = teacherFolder
    self.recipe = recipe
    self.methods = methods
    self.ratios = ratios
    self.output = output
    self.start = start
    self.communicator = communicator
  }
}

/// What a sweep reports: each member's events under its folder name.
public enum BaselineSweepEvent {
  /// A member starts (`index` from 0 of `total`).
  case member(name: String, index: Int, total: Int)
  /// A member finished by an earlier run, left as it is.
  case skipped(name: String, record: BaselineRecord)
  case event(name: String, BaselineTrainingEvent)
}

/// Methods × ratios into `OUT/<method>-<ratio>x/` (`kd-2x`, `sft-1.5x`),
/// sharing one pseudo-label cache in `OUT`, with `OUT/sweep.json` saying what
/// the sweep holds. Resumable member by member: a finished member (with its
/// `baseline.json`) is skipped, an unfinished one resumed.
public enum BaselineSweep {
  public static let fileName = "sweep.json"

  /// The folder name of one member: `kd-2x`, `sft-1.5x`.
  public static func memberName(method: BaselineMethod, ratio: Double) -> String {
    "\(method.rawValue)-\(String(format: "%g", ratio))x"
  }

  /// Trains every member not finished yet; returns every member's record, in order.
  @discardableResult
  public static func run(
    _ parameters: BaselineSweepParameters, events: (BaselineSweepEvent) throws -> Void = { _ in }
  ) throws -> [BaselineRecord] {
    let output = parameters.output
    guard !parameters.methods.isEmpty else { throw RecipeError(file: "--methods", reason: "names no method") }
    guard !parameters.ratios.isEmpty else { throw RecipeError(file: "--ratios", reason: "names no ratio") }
    if parameters.methods.contains(.polish) {
      throw RecipeError(
        file: "--methods",
        reason: "polish starts from one assembled model, not from a ratio; run tessera baselines train --method polish --from DIR for each")
    }
    var names = Set<String>()
    for method in parameters.methods {
      for ratio in parameters.ratios where !names.insert(memberName(method: method, ratio: ratio)).inserted {
        throw RecipeError(file: "--methods/--ratios", reason: "'\(memberName(method: method, ratio: ratio))' is asked for twice")
      }
    }
    var recipe = parameters.recipe
    for ratio in parameters.ratios {
      recipe.baseline.ratio = ratio
      try BaselineTraining.checkRecipe(recipe)
    }
    let communicator = parameters.communicator
    // The first process alone checks and writes the sweep's folder and decides for each member; the others follow.
    try communicator.leaderRuns {
      let existing = try OutputFolder.claim(
        output, as: .baselineSweep, force: parameters.start == .restart, reading: [parameters.teacherFolder])
      if parameters.start == .fresh, existing != .nothing, existing != .emptyFolder {
        throw TrainingStartError(kind: .earlierRun, path: output.path, reason: "already holds a baseline sweep (finished or not)")
      }
      if parameters.start == .resume, existing == .nothing || existing == .emptyFolder {
        throw TrainingStartError(kind: .nothingToResume, path: output.path, reason: "no baseline sweep to resume")
      }
      try checkReachable(parameters)
      try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
      try Contents(methods: parameters.methods, ratios: parameters.ratios, strategy: recipe.baseline.strategy)
        .write(to: output.appendingPathComponent(fileName))
    }

    let cache = output.appendingPathComponent(PseudoLabels.fileName)
    let members = parameters.methods.flatMap { method in parameters.ratios.map { (method, $0) } }
    var records: [BaselineRecord] = []
    for (index, (method, ratio)) in members.enumerated() {
      let name = memberName(method: method, ratio: ratio)
      let folder = output.appendingPathComponent(name)
      let finished = try communicator.leaderDecides {
        guard parameters.start == .resume, let record = try? BaselineRecord.read(from: folder) else { return false }
        try events(.skipped(name: name, record: record))
        records.append(record)
        return true
      }
      if finished { continue }
      let isStarted = try communicator.leaderDecides {
        !(((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.isEmpty)
      }
      let start: TrainingStart =
        switch parameters.start {
        case .fresh: .fresh
        case .resume: isStarted ? .resume : .fresh
        case .restart: .restart
        }
      recipe.baseline.method = method
      recipe.baseline.ratio = ratio
      try events(.member(name: name, index: index, total: members.count))
      let record = try BaselineTraining.run(
        BaselineTrainingParameters(
          teacherFolder: parameters.teacherFolder, recipe: recipe, output: folder, start: start, pseudoLabelCache: cache,
          communicator: communicator)
      ) { try events(.event(name: name, $0)) }
      if let record { records.append(record) }
    }
    return records
  }

  /// Every member's shape can be made, checked before the first member
  /// trains: an unreachable ratio would otherwise stop the sweep half-way.
  static func checkReachable(_ parameters: BaselineSweepParameters) throws {
    let costs = LayerCosts(teacher: try ModelLoading.load(from: parameters.teacherFolder))
    for ratio in parameters.ratios {
      if parameters.methods.contains(where: { $0 != .theseus }) {
        _ = try StudentShape.plan(costs: costs, ratio: ratio, strategy: parameters.recipe.baseline.strategy)
      }
      if parameters.methods.contains(.theseus) { _ = try TheseusBaseline.granularity(costs: costs, ratio: ratio) }
    }
  }

  /// `sweep.json`: what the sweep was asked for (written at every start).
  struct Contents: Codable {
    var formatVersion = 1
    var methods: [BaselineMethod]
    var ratios: [Double]
    var strategy: AssemblyStrategy

    enum CodingKeys: String, CodingKey {
      case formatVersion = "format_version", methods, ratios, strategy
    }

    func write(to url: URL) throws { try StrictJSONFile.write(self, to: url) }
  }
}
