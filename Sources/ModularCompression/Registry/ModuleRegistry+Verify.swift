import Foundation
import Seq2SeqModels
import TensorCore

extension ModuleRegistry {
  /// Checks the registry against its files and its teacher, and returns one
  /// problem per failure; no errors means the registry is sound.
  ///
  /// Errors: a module file that is missing, has another SHA-256 than the
  /// manifest's, does not read, names another module or teacher in its
  /// metadata, holds another number of parameters than the manifest says, or
  /// whose keys and shapes differ from the teacher's first layer of its span;
  /// a teacher folder that is missing or unreadable, whose `model.safetensors`
  /// has another fingerprint than the manifest's, or whose shape differs from
  /// the manifest's summary. Warnings (the registry still works): files the
  /// manifest does not list, and a teacher that cannot be checked because
  /// the manifest names no folder and none is given.
  ///
  /// `teacherFolder` defaults to the folder the manifest names.
  public func verify(teacherFolder: URL? = nil) -> [RegistryProblem] {
    var problems: [RegistryProblem] = []
    var headers: [String: SafeTensorsHeader] = [:]
    do {
      try RegistryLock.withLock(folder, .shared) {
        manifest = try Self.readManifest(in: folder)
        for entry in manifest.modules {
          let url = folder.appendingPathComponent(entry.file)
          do {
            headers[entry.id] = try checkedHeader(entry, url)
          } catch {
            problems.append(RegistryProblem(.error, moduleID: entry.id, file: url.path, message: "\(error)"))
          }
        }
        problems += orphanFiles()
      }
    } catch {
      return [RegistryProblem(.error, moduleID: nil, file: manifestURL.path, message: "\(error)")]
    }
    guard let teacherFolder = teacherFolder ?? self.teacherFolder else {
      return problems + [
        RegistryProblem(
          .warning, moduleID: nil, file: manifestURL.path,
          message: "teacher not checked: the manifest names no teacher folder (give one to check it)")
      ]
    }
    do {
      let teacher = try checkedTeacher(teacherFolder)
      for entry in manifest.modules {
        guard let header = headers[entry.id], let problem = shapeProblem(entry, header, teacher) else { continue }
        problems.append(problem)
      }
    } catch {
      problems.append(RegistryProblem(.error, moduleID: nil, file: teacherFolder.path, message: "teacher: \(error)"))
    }
    return problems
  }

  /// The header of `entry`'s file once the file is present, matches its
  /// checksum, names this module and teacher, and holds the manifest's
  /// parameter count.
  private func checkedHeader(_ entry: ModuleEntry, _ url: URL) throws -> SafeTensorsHeader {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw RegistryError.missingModuleFile(id: entry.id, file: url.path)
    }
    let digest = try SHA256.hexDigest(ofFile: url)
    guard digest == entry.sha256 else {
      throw RegistryError.checksumMismatch(id: entry.id, file: url.path, expected: entry.sha256, found: digest)
    }
    let header: SafeTensorsHeader
    do { header = try SafeTensorsFile.readHeader(from: url) } catch {
      throw RegistryError.invalidModuleFile(id: entry.id, file: url.path, reason: "\(error)")
    }
    try checkMetadata(header.metadata, of: entry, file: url.path)
    let parameters = header.entries.reduce(0) { $0 + $1.elementCount }
    guard parameters == entry.parameters else {
      throw RegistryError.invalidModuleFile(
        id: entry.id, file: url.path,
        reason: "holds \(parameters) parameters but the manifest's 'parameters' says \(entry.parameters)")
    }
    return header
  }

  /// Entries of the folder that neither the manifest nor Tessera's own
  /// bookkeeping accounts for.
  private func orphanFiles() -> [RegistryProblem] {
    let listed = Set(manifest.modules.map(\.file))
    let known = Set([Self.manifestFileName, RegistryLock.fileName] + Self.auxiliaryFileNames)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.sorted().filter { !listed.contains($0) && !known.contains($0) }.map { name in
      let reason =
        OutputFolder.isTesseraLeftover(name)
        ? "left by an interrupted write; safe to delete"
        : "not listed in the manifest (a module file the manifest lost, or a file put here by hand)"
      return RegistryProblem(.warning, moduleID: nil, file: folder.appendingPathComponent(name).path, message: "'\(name)': \(reason)")
    }
  }

  /// The teacher built from `folder`'s `config.json`, once its weights'
  /// fingerprint and its shape match the manifest.
  private func checkedTeacher(_ folder: URL) throws -> any Seq2SeqModel {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
      throw RegistryError.invalidValue(
        field: "teacher folder '\(folder.standardizedFileURL.path)'", reason: "does not exist (the manifest's teacher.path is '\(manifest.teacher.path ?? "")')")
    }
    try checkTeacher(try TeacherFingerprint.of(modelFolder: folder))
    let configuration = folder.appendingPathComponent("config.json")
    let teacher = try ModelLoading.makeModel(configuration: try FileAccess.read(configuration), source: configuration.path)
    let found = TeacherSummary(model: teacher)
    let summary = manifest.teacher
    let differences = [
      ("model_type", summary.modelType, found.modelType),
      ("encoder_layers", String(summary.encoderLayers), String(found.encoderLayers)),
      ("decoder_layers", String(summary.decoderLayers), String(found.decoderLayers)),
      ("d_model", String(summary.dModel), String(found.dModel)),
    ].filter { $0.1 != $0.2 }
    guard differences.isEmpty else {
      throw RegistryError.invalidManifest(
        file: manifestURL.path, field: "teacher",
        reason: differences.map { "\($0.0) is \($0.1) but the teacher's config.json has \($0.2)" }.joined(separator: "; "))
    }
    return teacher
  }

  /// The keys and shapes of a module file that differ from those of the
  /// teacher's first layer of its span, as one problem.
  private func shapeProblem(_ entry: ModuleEntry, _ header: SafeTensorsHeader, _ teacher: any Seq2SeqModel)
    -> RegistryProblem?
  {
    let span = entry.moduleSpan
    let layer = (span.stack == .encoder ? teacher.encoder : teacher.decoder).blocks[span.start]
    let expected = layer.stateDictionary().mapValues(\.shape)
    let found = Dictionary(uniqueKeysWithValues: header.entries.map { ($0.name, $0.shape) })
    let missing = expected.keys.filter { found[$0] == nil }.sorted()
    let unexpected = found.keys.filter { expected[$0] == nil }.sorted()
    let reshaped = expected.keys.filter { found[$0] != nil && found[$0] != expected[$0] }.sorted()
    func list(_ what: String, _ keys: [String], _ describe: (String) -> String) -> String? {
      guard !keys.isEmpty else { return nil }
      let more = keys.count > 3 ? " and \(keys.count - 3) more" : ""
      return what + " " + keys.prefix(3).map(describe).joined(separator: ", ") + more
    }
    let differences = [
      list("missing keys", missing) { "'\($0)'" },
      list("unexpected keys", unexpected) { "'\($0)'" },
      list("other shapes:", reshaped) { "'\($0)' \(found[$0]!) (the teacher's \(expected[$0]!))" },
    ].compactMap { $0 }
    guard !differences.isEmpty else { return nil }
    let shown = differences.joined(separator: "; ")
    return RegistryProblem(
      .error, moduleID: entry.id, file: folder.appendingPathComponent(entry.file).path,
      message: "module '\(entry.id)': does not fit the teacher's \(span.stack.rawValue) layer \(span.start): \(shown)")
  }
}

/// One thing ``ModuleRegistry/verify(teacherFolder:)`` found.
public struct RegistryProblem: Sendable, Equatable, CustomStringConvertible {
  /// Whether the registry is unusable as it is (error) or only untidy or unchecked (warning).
  public enum Severity: String, Sendable { case error, warning }

  public let severity: Severity
  /// The module concerned; nil for the manifest, the teacher or a stray file.
  public let moduleID: String?
  /// The file or folder concerned.
  public let file: String
  public let message: String

  public init(_ severity: Severity, moduleID: String?, file: String, message: String) {
    self.severity = severity
    self.moduleID = moduleID
    self.file = file
    self.message = message
  }

  public var isError: Bool { severity == .error }
  public var description: String { message }
}
