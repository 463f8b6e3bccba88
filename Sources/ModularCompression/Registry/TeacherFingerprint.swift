import Foundation
import Seq2SeqModels

/// The identity of a teacher: SHA-256 (hex) of its `model.safetensors` bytes.
/// A registry records it, and refuses modules for any other teacher.
public enum TeacherFingerprint {
  /// The fingerprint of the model in `modelFolder`, streamed from disk.
  public static func of(modelFolder: URL) throws -> String {
    let weights = modelFolder.appendingPathComponent("model.safetensors")
    guard FileManager.default.fileExists(atPath: weights.path) else { throw ModelFolderError.missingFile(weights.path) }
    return try SHA256.hexDigest(ofFile: weights)
  }
}
