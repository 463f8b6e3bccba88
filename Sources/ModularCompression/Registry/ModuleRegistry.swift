import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// A folder of modules trained against one teacher: `manifest.json` (the
/// teacher's fingerprint and one entry per module) plus one safetensors file
/// per module, named `<module id>.safetensors`.
///
/// Every change rewrites files atomically under the folder's lock
/// (``RegistryLock``) and re-reads the manifest first, so concurrent writers —
/// threads or processes — each keep the others' modules. Loading checks the
/// teacher fingerprint and the file's SHA-256 before trusting a module.
///
/// ```swift
/// let fingerprint = try TeacherFingerprint.of(modelFolder: teacherURL)
/// let registry = try ModuleRegistry.create(at: registryURL, teacherFingerprint: fingerprint,
///                                          teacher: TeacherSummary(model: teacher, path: teacherURL.path))
/// try registry.add(block: module, span: span, provenance: provenance)
/// let block = try registry.loadBlock(span, for: teacher, teacherFingerprint: fingerprint)
/// ```
public final class ModuleRegistry {
  /// The registry folder.
  public let folder: URL
  /// The manifest as last read or written by this instance.
  public internal(set) var manifest: RegistryManifest

  /// The manifest's file name inside the folder.
  public static let manifestFileName = "manifest.json"
  /// Safetensors metadata keys written into every module file.
  public static let moduleIDMetadataKey = "module_id"
  public static let teacherFingerprintMetadataKey = "teacher_fingerprint"
  /// Files and folders other than the manifest and the modules that Tessera
  /// keeps in a registry folder: the unfinished training run's checkpoint
  /// (and the single-file one of older versions), the latency profile and
  /// what the module runs cost.
  public static let auxiliaryFileNames = [
    ModuleTraining.checkpointFolderName, ModuleTraining.formerCheckpointFileName, LatencyProfile.fileName,
    ModuleTrainingCost.fileName,
  ]

  private init(folder: URL, manifest: RegistryManifest) {
    self.folder = folder
    self.manifest = manifest
  }

  /// The modules, sorted by stack, granularity and index.
  public var entries: [ModuleEntry] { manifest.modules }
  public var teacherFingerprint: String { manifest.teacherFingerprint }
  public var manifestURL: URL { folder.appendingPathComponent(Self.manifestFileName) }

  /// The entry of module `id`, if the registry has it.
  public func entry(_ id: String) -> ModuleEntry? { manifest.entry(id) }

  /// Whether `folder` holds a registry manifest.
  public static func exists(at folder: URL) -> Bool {
    FileManager.default.fileExists(atPath: folder.appendingPathComponent(manifestFileName).path)
  }

  /// Makes an empty registry in `folder` (created if missing) for the teacher
  /// with `teacherFingerprint`. A folder that already holds one is an error.
  public static func create(at folder: URL, teacherFingerprint: String, teacher: TeacherSummary) throws -> ModuleRegistry {
    guard ManifestDecoding.isSHA256Hex(teacherFingerprint) else {
      throw RegistryError.invalidValue(
        field: "teacher fingerprint", reason: "'\(teacherFingerprint)' is not 64 lower-case hex digits (a SHA-256)")
    }
    try FileAccess.createFolder(folder)
    let manifest = RegistryManifest(teacherFingerprint: teacherFingerprint, teacher: teacher)
    return try RegistryLock.withLock(folder, .exclusive) {
      guard !exists(at: folder) else { throw RegistryError.alreadyExists(folder: folder.path) }
      let registry = ModuleRegistry(folder: folder, manifest: manifest)
      try registry.writeManifest(manifest)
      return registry
    }
  }

  /// Opens the registry in `folder`; the manifest is validated.
  public static func open(at folder: URL) throws -> ModuleRegistry {
    guard exists(at: folder) else { throw RegistryError.notARegistry(folder: folder.path) }
    let manifest = try RegistryLock.withLock(folder, .shared) { try readManifest(in: folder) }
    return ModuleRegistry(folder: folder, manifest: manifest)
  }

  /// Opens the registry in `folder` if there is one — refusing it when it
  /// belongs to another teacher — or creates it.
  public static func openOrCreate(at folder: URL, teacherFingerprint: String, teacher: TeacherSummary) throws
    -> ModuleRegistry
  {
    if !exists(at: folder) {
      do { return try create(at: folder, teacherFingerprint: teacherFingerprint, teacher: teacher) } catch RegistryError
        .alreadyExists
      {}  // another writer created it first: open theirs
    }
    let registry = try open(at: folder)
    try registry.checkTeacher(teacherFingerprint)
    return registry
  }

  /// Throws ``RegistryError/foreignTeacher(folder:registryFingerprint:teacherFingerprint:)``
  /// unless `fingerprint` is this registry's teacher's.
  public func checkTeacher(_ fingerprint: String) throws {
    guard fingerprint == manifest.teacherFingerprint else {
      throw RegistryError.foreignTeacher(
        folder: folder.path, registryFingerprint: manifest.teacherFingerprint, teacherFingerprint: fingerprint)
    }
  }

  // MARK: Writing

  /// Stores `block` as the module for `span`, replacing any module with the
  /// same id. The weights are saved under the block's own parameter keys, with
  /// the module id and teacher fingerprint as safetensors metadata.
  @discardableResult
  public func add(
    block: any TransformerBlock, span: ModuleSpan, provenance: ModuleProvenance, validation: ModuleValidation? = nil
  ) throws -> ModuleEntry {
    let depth = span.stack == .encoder ? manifest.teacher.encoderLayers : manifest.teacher.decoderLayers
    guard span.end <= depth else { throw RegistryError.spanOutsideTeacher(id: span.id, depth: depth) }
    try Self.checkFinite(validation)
    let metadata = [
      "format": "pt", Self.moduleIDMetadataKey: span.id, Self.teacherFingerprintMetadataKey: manifest.teacherFingerprint,
    ]
    let bytes = try SafeTensorsFile(tensors: block.stateDictionary(), metadata: metadata).serialized()
    let entry = ModuleEntry(
      span: span, parameters: block.parameterCount, file: span.id + ".safetensors",
      sha256: SHA256.hexDigest(of: bytes), provenance: provenance, validation: validation)
    try modify { manifest in
      try AtomicFile.write(bytes, to: folder.appendingPathComponent(entry.file))
      manifest.modules.removeAll { $0.id == entry.id }
      manifest.modules.append(entry)
      manifest.modules.sort { $0.moduleSpan < $1.moduleSpan }
    }
    return entry
  }

  /// Sets (or clears, with nil) the validation results of module `id`.
  public func updateValidation(id: String, _ validation: ModuleValidation?) throws {
    try Self.checkFinite(validation)
    try modify { manifest in
      manifest.modules[try index(of: id, in: manifest)].validation = validation
    }
  }

  /// Sets (or clears) the teacher's probe results, the baseline of the modules'.
  public func updateTeacherValidation(_ validation: ModuleValidation?) throws {
    try Self.checkFinite(validation)
    try modify { $0.teacherValidation = validation }
  }

  /// Removes module `id` from the manifest and deletes its file.
  public func remove(id: String) throws {
    var removed: ModuleEntry?
    try modify({ manifest in
      removed = manifest.modules.remove(at: try index(of: id, in: manifest))
    }, afterWriting: {
      // Deleted once the manifest no longer names it, still under the lock so
      // that a writer re-adding the module cannot lose its new file.
      if let removed { try? FileManager.default.removeItem(at: folder.appendingPathComponent(removed.file)) }
    })
  }

  /// Runs `change` on a freshly read manifest under the exclusive lock, then
  /// writes the result, then runs `afterWriting`; this instance's manifest follows.
  private func modify(
    _ change: (inout RegistryManifest) throws -> Void, afterWriting: () -> Void = {}
  ) throws {
    manifest = try RegistryLock.withLock(folder, .exclusive) {
      var fresh = try Self.readManifest(in: folder)
      try checkTeacher(fresh.teacherFingerprint)
      try change(&fresh)
      try writeManifest(fresh)
      afterWriting()
      return fresh
    }
  }

  // MARK: Reading

  /// A block built by the teacher stack's `makeBlock` and loaded strictly with
  /// the weights of the module for `span`. Refused when `teacherFingerprint`
  /// is not the registry's teacher, the module is not listed, its file is
  /// missing, its SHA-256 differs from the manifest's, or its weights do not
  /// fit the stack.
  public func loadBlock(_ span: ModuleSpan, for model: any Seq2SeqModel, teacherFingerprint: String) throws
    -> any TransformerBlock
  {
    let (entry, file) = try RegistryLock.withLock(folder, .shared) {
      manifest = try Self.readManifest(in: folder)
      try checkTeacher(teacherFingerprint)
      guard let entry = manifest.entry(span.id) else {
        throw RegistryError.unknownModule(id: span.id, folder: folder.path, available: entries.map(\.id))
      }
      return (entry, try readModuleFile(entry))
    }
    let url = folder.appendingPathComponent(entry.file)
    let stack = span.stack == .encoder ? model.encoder : model.decoder
    var generator = SeededRandom(seed: 0)  // every weight is overwritten below
    let block = stack.makeBlock(using: &generator)
    do {
      try block.loadStateDictionary(file.tensors, source: url.path)
    } catch {
      throw RegistryError.invalidModuleFile(id: entry.id, file: url.path, reason: "does not fit the teacher: \(error)")
    }
    return block
  }

  /// The module file of `entry`, checked against the manifest: it exists, its
  /// SHA-256 matches, it parses, and its metadata names this module and teacher.
  private func readModuleFile(_ entry: ModuleEntry) throws -> SafeTensorsFile {
    let url = folder.appendingPathComponent(entry.file)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw RegistryError.missingModuleFile(id: entry.id, file: url.path)
    }
    let data: Data
    do { data = try FileAccess.read(url) } catch {
      throw RegistryError.invalidModuleFile(id: entry.id, file: url.path, reason: (error as? FileAccessError)?.reason ?? "\(error)")
    }
    let digest = SHA256.hexDigest(of: data)
    guard digest == entry.sha256 else {
      throw RegistryError.checksumMismatch(id: entry.id, file: url.path, expected: entry.sha256, found: digest)
    }
    let file: SafeTensorsFile
    do {
      file = try SafeTensorsFile.read(data: data, source: url.path)
      try SafeTensorsFile.requireFinite(file.tensors, source: url.path)
    } catch {
      throw RegistryError.invalidModuleFile(id: entry.id, file: url.path, reason: "\(error)")
    }
    try checkMetadata(file.metadata, of: entry, file: url.path)
    return file
  }

  func checkMetadata(_ metadata: [String: String], of entry: ModuleEntry, file: String) throws {
    let fingerprint = metadata[Self.teacherFingerprintMetadataKey] ?? "(none)"
    guard fingerprint == manifest.teacherFingerprint else {
      throw RegistryError.invalidModuleFile(
        id: entry.id, file: file,
        reason: "was trained against another teacher (teacher_fingerprint \(fingerprint), registry \(manifest.teacherFingerprint))")
    }
    let id = metadata[Self.moduleIDMetadataKey] ?? "(none)"
    guard id == entry.id else {
      throw RegistryError.invalidModuleFile(id: entry.id, file: file, reason: "holds module '\(id)'")
    }
  }

  // MARK: Files

  static func readManifest(in folder: URL) throws -> RegistryManifest {
    let url = folder.appendingPathComponent(manifestFileName)
    guard FileManager.default.fileExists(atPath: url.path) else { throw RegistryError.notARegistry(folder: folder.path) }
    let data: Data
    do { data = try FileAccess.read(url) } catch {
      throw RegistryError.invalidManifest(file: url.path, field: "", reason: (error as? FileAccessError)?.reason ?? "\(error)")
    }
    return try RegistryManifest.decode(data, file: url.path)
  }

  private func writeManifest(_ manifest: RegistryManifest) throws {
    try AtomicFile.write(try manifest.encoded(), to: manifestURL)
  }

  private func index(of id: String, in manifest: RegistryManifest) throws -> Int {
    guard let index = manifest.modules.firstIndex(where: { $0.id == id }) else {
      throw RegistryError.unknownModule(id: id, folder: folder.path, available: manifest.modules.map(\.id))
    }
    return index
  }

  private static func checkFinite(_ validation: ModuleValidation?) throws {
    for (name, value) in [("validation loss", validation?.loss), ("validation metric", validation?.metric)] {
      if let value, !value.isFinite { throw RegistryError.invalidValue(field: name, reason: "must be finite, got \(value)") }
    }
  }
}
