import Foundation

/// Why a registry, or one of its modules, cannot be used. Every message names
/// the folder or file and, where there is one, the module or manifest field.
public enum RegistryError: LocalizedError, CustomStringConvertible, Equatable {
  /// The folder has no `manifest.json`.
  case notARegistry(folder: String)
  /// `create` was asked for a folder that already holds a registry.
  case alreadyExists(folder: String)
  /// A manifest field is missing, unknown or invalid.
  case invalidManifest(file: String, field: String, reason: String)
  /// The manifest was written by a newer (or unknown) format.
  case unsupportedFormatVersion(file: String, version: Int)
  /// No module with this id; `available` lists the ids there are.
  case unknownModule(id: String, folder: String, available: [String])
  /// The manifest lists the module but its file is gone.
  case missingModuleFile(id: String, file: String)
  /// The module file's SHA-256 is not the one the manifest recorded.
  case checksumMismatch(id: String, file: String, expected: String, found: String)
  /// The module was trained against another teacher than the one given.
  case foreignTeacher(folder: String, registryFingerprint: String, teacherFingerprint: String)
  /// The module file cannot be read or does not fit the teacher.
  case invalidModuleFile(id: String, file: String, reason: String)
  /// A module span that the teacher's stack does not have.
  case spanOutsideTeacher(id: String, depth: Int)
  /// A value handed to the registry that it cannot store.
  case invalidValue(field: String, reason: String)
  /// The lock file cannot be opened or locked.
  case lockFailed(file: String, reason: String)

  public var description: String {
    switch self {
    case .notARegistry(let folder): "'\(folder)' is not a module registry (no manifest.json)"
    case .alreadyExists(let folder): "'\(folder)' already holds a module registry (manifest.json exists)"
    case .invalidManifest(let file, let field, let reason):
      field.isEmpty ? "\(file): \(reason)" : "\(file): field '\(field)': \(reason)"
    case .unsupportedFormatVersion(let file, let version):
      "\(file): format_version \(version) is not supported; this Tessera reads format_version \(RegistryManifest.formatVersion)"
    case .unknownModule(let id, let folder, let available):
      "registry '\(folder)' has no module '\(id)'; available: "
        + (available.isEmpty ? "(none)" : available.joined(separator: ", "))
    case .missingModuleFile(let id, let file): "module '\(id)': file '\(file)' is missing"
    case .checksumMismatch(let id, let file, let expected, let found):
      "module '\(id)': checksum mismatch in '\(file)' (manifest sha256 \(expected), file has \(found)); the file is corrupt or was replaced"
    case .foreignTeacher(let folder, let registryFingerprint, let teacherFingerprint):
      "registry '\(folder)' holds modules from another teacher: its teacher fingerprint is \(registryFingerprint), the given teacher's is \(teacherFingerprint)"
    case .invalidModuleFile(let id, let file, let reason): "module '\(id)': '\(file)': \(reason)"
    case .spanOutsideTeacher(let id, let depth): "module '\(id)' does not fit the teacher's stack of \(depth) layers"
    case .invalidValue(let field, let reason): "\(field): \(reason)"
    case .lockFailed(let file, let reason): "cannot lock '\(file)': \(reason)"
    }
  }

  public var errorDescription: String? { description }
}
