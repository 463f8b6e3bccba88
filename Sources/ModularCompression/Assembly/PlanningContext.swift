import Foundation
import Seq2SeqModels

/// Where the planner's latency numbers come from.
public enum LatencySource: Sendable, Equatable {
  /// The profile kept in the registry folder, measured and kept there when missing.
  case keptProfile
  /// Measure the profile again and replace the kept one.
  case remeasure
  /// Parameter-count estimates; no profile is read or written.
  case estimate
}

/// A teacher and its registry, checked against each other, with the one
/// planner every command uses for them: costs counted from the teacher's own
/// blocks, the registry's modules, and the latency profile kept with the
/// registry. `tessera assemble` and `tessera compare` both plan through it,
/// so the same request gives the same plan.
public struct PlanningContext {
  public let teacher: any Seq2SeqModel
  /// nil when the caller vouched for an in-memory teacher.
  public let teacherFolder: URL?
  public let teacherFingerprint: String
  public let registry: ModuleRegistry
  /// The profile the planner uses; nil with ``LatencySource/estimate``.
  public let latencyProfile: LatencyProfile?
  /// Whether `latencyProfile` was measured in this call.
  public let isNewLatencyProfile: Bool
  public let planner: AssemblyPlanner

  /// Loads the registry and its teacher (`teacherFolder`, or the one the
  /// registry names) and checks the teacher's fingerprint.
  public static func load(
    registryFolder: URL, teacherFolder: URL?, latency: LatencySource, warn: (String) -> Void = { _ in }
  ) throws -> PlanningContext {
    let registry = try ModuleRegistry.open(at: registryFolder)
    guard let folder = teacherFolder ?? registry.teacherFolder else { throw PlanningError.noTeacherFolder(registry: registryFolder.path) }
    let teacher = try ModelLoading.load(from: folder)
    return try PlanningContext(teacher: teacher, teacherFolder: folder, registry: registry, latency: latency, warn: warn)
  }

  /// For a teacher already loaded. With `teacherFolder`, its fingerprint must
  /// be the registry's; without, the caller vouches that `teacher` is the registry's teacher.
  public init(
    teacher: any Seq2SeqModel, teacherFolder: URL?, registry: ModuleRegistry, latency: LatencySource,
    warn: (String) -> Void = { _ in }
  ) throws {
    let fingerprint = try teacherFolder.map { try TeacherFingerprint.of(modelFolder: $0) } ?? registry.teacherFingerprint
    try registry.checkTeacher(fingerprint)
    var profile: LatencyProfile?, isNew = false
    if latency != .estimate {
      (profile, isNew) = try LatencyProfile.kept(
        in: registry, teacher: teacher, teacherFingerprint: fingerprint, remeasure: latency == .remeasure, warn: warn)
    }
    self.teacher = teacher
    self.teacherFolder = teacherFolder
    self.teacherFingerprint = fingerprint
    self.registry = registry
    self.latencyProfile = profile
    self.isNewLatencyProfile = isNew
    self.planner = AssemblyPlanner(
      costs: LayerCosts(teacher: teacher), catalog: registry, latency: profile?.latencyModel ?? LatencyModel())
  }

  /// Loads block `span` from the registry for this teacher.
  public func loadBlock(_ span: ModuleSpan) throws -> any TransformerBlock {
    try registry.loadBlock(span, for: teacher, teacherFingerprint: teacherFingerprint)
  }
}

/// A teacher and registry that cannot be planned with.
public enum PlanningError: Error, LocalizedError, CustomStringConvertible, Equatable {
  case noTeacherFolder(registry: String)

  public var description: String {
    switch self {
    case .noTeacherFolder(let registry): "the registry \(registry) names no teacher folder; give the teacher's folder (--teacher DIR)"
    }
  }

  public var errorDescription: String? { description }
}
