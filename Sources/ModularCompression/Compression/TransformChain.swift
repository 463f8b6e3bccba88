import Foundation
import JSONFormat
import Seq2SeqModels
import TensorCore

/// The transforms a model folder went through (`tessera compress`,
/// `tessera quantize`), oldest first, kept in its `config.json` under
/// `tessera_transforms`: each stage names its command, its settings and the
/// fingerprint of the folder it read, so a stacked model says how it was made
/// and from what.
public enum TransformChain {
  public static let sectionKey = "tessera_transforms"

  /// `source`'s chain with one more stage: `stage` with `settings`, reading `source`.
  public static func extended(from source: URL, stage: String, settings: [(String, JSONValue)]) throws -> JSONValue {
    let configFile = source.appendingPathComponent("config.json")
    var stages: [JSONValue] = []
    if let existing = try JSONValue.parse(FileAccess.read(configFile))[sectionKey] {
      guard case .array(let list) = existing else {
        throw ModelFolderError.invalidConfiguration(file: configFile.path, reason: "field '\(sectionKey)': expected a list of stages")
      }
      stages = list
    }
    let input: JSONValue = .object([
      ("path", .string(source.path)), ("fingerprint", .string(try TeacherFingerprint.of(modelFolder: source))),
    ])
    stages.append(.object([("stage", .string(stage))] + settings + [("input", input)]))
    return .array(stages)
  }

  /// The stages recorded in `folder` (none for a folder no transform wrote).
  public static func stages(in folder: URL) throws -> [JSONValue] {
    guard case .array(let list)? = try JSONValue.parse(FileAccess.read(folder.appendingPathComponent("config.json")))[sectionKey] else {
      return []
    }
    return list
  }
}
