import Foundation
import Seq2SeqModels

/// A registry is the planner's catalog of modules: their sizes and probed quality.
extension ModuleRegistry: ModuleCatalog {
  public var availableModules: [ModuleSpan: ModuleFacts] {
    Dictionary(uniqueKeysWithValues: entries.map { entry in
      (entry.moduleSpan, ModuleFacts(
        parameters: entry.parameters, validationLoss: entry.validation?.loss, metric: entry.validation?.metric))
    })
  }

  /// The teacher's probed validation loss, when the quality probe has run.
  public var teacherValidationLoss: Float? { manifest.teacherValidation?.loss }

  /// SHA-256 of the manifest: names exactly this set of modules.
  public func fingerprint() throws -> String { try SHA256.hexDigest(ofFile: manifestURL) }

  /// The teacher folder the manifest names, relative to the registry when not absolute.
  public var teacherFolder: URL? {
    guard let path = manifest.teacher.path else { return nil }
    return path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)
  }
}
