import Foundation
import Seq2SeqModels
import TensorCore

/// The measured seconds of one teacher layer per stack, kept in the registry
/// folder as `latency-profile.json` so that `tessera assemble`, `tessera
/// compare` and the library plan with the same numbers: measured once, tied
/// to the teacher's fingerprint, measured again only when missing or asked.
///
/// The shape of the simulated generation is fixed (``defaultSourceTokens``,
/// ``defaultGeneratedTokens``), not taken from a command's data, so that the
/// profile does not depend on which command measured it first.
public struct LatencyProfile: Codable, Sendable, Equatable {
  public static let fileName = "latency-profile.json"
  public static let currentFormatVersion = 1
  public static let defaultSourceTokens = 32
  public static let defaultGeneratedTokens = 32

  public var formatVersion: Int
  /// SHA-256 of the teacher's `model.safetensors`: the profile belongs to that teacher.
  public var teacherFingerprint: String
  public var sourceTokens: Int
  public var generatedTokens: Int
  /// Median seconds of one encoder layer over `sourceTokens`; nil for an empty stack.
  @NullEncoded public var encoderLayerSeconds: Double?
  /// Median seconds of one decoder layer over `generatedTokens` steps; nil for an empty stack.
  @NullEncoded public var decoderLayerSeconds: Double?
  /// Parameters of the timed layers: other blocks scale by their own parameters.
  public var encoderLayerParameters: Int
  public var decoderLayerParameters: Int
  /// Where it was measured, for the reader of a report.
  public var blas: String
  public var threads: Int
  public var measured: String

  enum CodingKeys: String, CodingKey, CaseIterable {
    case formatVersion = "format_version", teacherFingerprint = "teacher_fingerprint"
    case sourceTokens = "source_tokens", generatedTokens = "generated_tokens"
    case encoderLayerSeconds = "encoder_layer_seconds", decoderLayerSeconds = "decoder_layer_seconds"
    case encoderLayerParameters = "encoder_layer_parameters", decoderLayerParameters = "decoder_layer_parameters"
    case blas, threads, measured
  }

  /// The planner's latency model: the measured teacher layers, modules scaled by their parameters.
  public var latencyModel: LatencyModel {
    var seconds: [BlockKind: Double] = [:], parameters: [BlockKind: Int] = [:]
    for (stack, value, count) in [
      (StackRole.encoder, encoderLayerSeconds, encoderLayerParameters), (.decoder, decoderLayerSeconds, decoderLayerParameters),
    ] {
      guard let value else { continue }
      seconds[.teacherLayer(stack)] = value
      parameters[.teacherLayer(stack)] = count
    }
    return LatencyModel(measuredSeconds: seconds, measuredParameters: parameters, generatedTokens: Double(generatedTokens))
  }

  /// Times the first layer of each of `teacher`'s stacks at the fixed shape.
  public static func measure(_ teacher: any Seq2SeqModel, teacherFingerprint: String) -> LatencyProfile {
    let profiler = BlockLatencyProfiler(sourceLength: defaultSourceTokens, generatedTokens: defaultGeneratedTokens)
    let measured = profiler.profile(teacher)
    let date = ISO8601DateFormatter().string(from: Date())
    return LatencyProfile(
      formatVersion: currentFormatVersion, teacherFingerprint: teacherFingerprint, sourceTokens: profiler.sourceLength,
      generatedTokens: profiler.generatedTokens, encoderLayerSeconds: measured.measuredSeconds[.teacherLayer(.encoder)],
      decoderLayerSeconds: measured.measuredSeconds[.teacherLayer(.decoder)],
      encoderLayerParameters: teacher.encoder.blocks.first?.parameterCount ?? 0,
      decoderLayerParameters: teacher.decoder.blocks.first?.parameterCount ?? 0, blas: BLAS.backendName,
      threads: ThreadCount.current, measured: date)
  }

  /// Whether `registryFolder` keeps a profile file (valid or not).
  public static func isKept(in registryFolder: URL) -> Bool {
    FileManager.default.fileExists(atPath: registryFolder.appendingPathComponent(fileName).path)
  }

  /// The profile kept in `registryFolder`; nil when there is none. A file
  /// that is not a valid profile, or one for another teacher, is an error
  /// naming it (``LatencyProfileError``).
  public static func load(from registryFolder: URL, teacherFingerprint: String) throws -> LatencyProfile? {
    let url = registryFolder.appendingPathComponent(fileName)
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    func fail(_ reason: String) -> LatencyProfileError { LatencyProfileError(file: url.path, reason: reason) }
    guard let data = try? Data(contentsOf: url) else { throw fail("cannot be read") }
    guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw fail("is not a JSON object") }
    let known = Set(CodingKeys.allCases.map(\.rawValue))
    if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) { throw fail("unknown field '\(unknown)'") }
    let profile: LatencyProfile
    do { profile = try JSONDecoder().decode(LatencyProfile.self, from: data) } catch let error as DecodingError {
      throw fail(ModelLoading.describe(error))
    }
    if let problem = profile.problem(teacherFingerprint: teacherFingerprint) { throw fail(problem) }
    return profile
  }

  /// What is wrong with the profile's values, naming the field; nil when it can be used.
  func problem(teacherFingerprint expected: String) -> String? {
    if formatVersion != Self.currentFormatVersion {
      return "field 'format_version': \(formatVersion) is not supported (expected \(Self.currentFormatVersion))"
    }
    if teacherFingerprint != expected {
      return "field 'teacher_fingerprint': the profile was measured for another teacher (\(teacherFingerprint.prefix(12))…, "
        + "the registry's is \(expected.prefix(12))…)"
    }
    for (name, value) in [("source_tokens", sourceTokens), ("generated_tokens", generatedTokens)] where value < 1 {
      return "field '\(name)' must be at least 1, got \(value)"
    }
    for (name, value) in [("encoder_layer_seconds", encoderLayerSeconds), ("decoder_layer_seconds", decoderLayerSeconds)] {
      if let value, !(value.isFinite && value > 0) { return "field '\(name)' must be a finite number > 0, got \(value)" }
    }
    for (name, value) in [("encoder_layer_parameters", encoderLayerParameters), ("decoder_layer_parameters", decoderLayerParameters)]
    where value < 0 {
      return "field '\(name)' must not be negative, got \(value)"
    }
    return nil
  }

  /// Writes the profile into `registryFolder` atomically.
  public func write(to registryFolder: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(self), to: registryFolder.appendingPathComponent(Self.fileName))
  }

  /// The profile kept with `registry`, measured on `teacher` and written there
  /// when missing or when `remeasure` is set. `warn` hears why a fresh profile
  /// could not be kept (a read-only registry): it is then used for this run only.
  public static func kept(
    in registry: ModuleRegistry, teacher: any Seq2SeqModel, teacherFingerprint: String, remeasure: Bool,
    warn: (String) -> Void = { _ in }
  ) throws -> (profile: LatencyProfile, isNew: Bool) {
    if !remeasure, let kept = try load(from: registry.folder, teacherFingerprint: teacherFingerprint) { return (kept, false) }
    let fresh = measure(teacher, teacherFingerprint: teacherFingerprint)
    do { try fresh.write(to: registry.folder) } catch {
      warn("cannot keep the latency profile in \(registry.folder.path) (\(error)); it is used for this run only")
    }
    return (fresh, true)
  }
}

/// A `latency-profile.json` that cannot be used.
public struct LatencyProfileError: Error, LocalizedError, CustomStringConvertible, Equatable {
  public var file: String
  public var reason: String

  public var description: String {
    "\(file): \(reason); measure it again with --remeasure-latency (or delete the file)"
  }

  public var errorDescription: String? { description }
}
