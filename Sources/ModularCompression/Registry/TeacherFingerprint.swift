import Foundation
import Seq2SeqModels

/// The identity of a teacher: SHA-256 (hex) of its `model.safetensors` bytes
/// (sharded weights: of their index file, which names every shard).
/// A registry records it, and refuses modules for any other teacher.
public enum TeacherFingerprint {
  /// The fingerprint of the model in `modelFolder`, streamed from disk.
  public static func of(modelFolder: URL) throws -> String {
    let weights = modelFolder.appendingPathComponent(CheckpointFiles.singleFileName)
    let index = modelFolder.appendingPathComponent(CheckpointFiles.indexFileName)
    if !FileManager.default.fileExists(atPath: weights.path), FileManager.default.fileExists(atPath: index.path) {
      return try shardedDigest(index: index)
    }
    guard FileManager.default.fileExists(atPath: weights.path) else { throw ModelFolderError.missingFile(weights.path) }
    return try SHA256.hexDigest(ofFile: weights)
  }

  /// SHA-256 of the index followed by each shard's digest in name order, so a changed shard changes it.
  private static func shardedDigest(index: URL) throws -> String {
    let folder = index.deletingLastPathComponent()
    let shards = try CheckpointFiles.shardNames(index: index)
    var text = try SHA256.hexDigest(ofFile: index)
    for shard in shards { text += try SHA256.hexDigest(ofFile: folder.appendingPathComponent(shard)) }
    return SHA256.hexDigest(of: Data(text.utf8))
  }
}
