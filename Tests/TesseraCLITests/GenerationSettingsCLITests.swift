import Foundation
import XCTest

/// `generate` and `evaluate` follow a folder's generation_config.json, flags
/// override it, and `teacher import` writes shards that generate alike.
final class GenerationSettingsCLITests: TinyModelCLITestCase {
  private func writeSettings(_ json: String) throws {
    try Data(json.utf8).write(to: model.appendingPathComponent("generation_config.json"))
  }

  private func generate(_ extra: [String] = [], model: URL? = nil) throws -> String {
    let result = try CLI.run(["generate", "--model", (model ?? self.model).path] + extra + ["12 + 30", "7"])
    XCTAssertEqual(result.status, 0, result.error)
    return result.output
  }

  /// The tiny random model's own tokens decode to nothing visible; a forced
  /// first token (byte tokenizer id 68 = "A") shows which settings applied.
  func testTheFolderSettingsApplyAndFlagsOverrideThem() throws {
    XCTAssertFalse(try generate().contains("A"))
    try writeSettings(#"{"forced_bos_token_id": 68}"#)
    XCTAssertEqual(try generate().split(separator: "\n").map { $0.first }, ["A", "A"])
    try writeSettings(#"{"forced_bos_token_id": 68, "max_length": 1}"#)
    XCTAssertEqual(try generate(), "\n\n", "max_length counts the decoder start token: no new token")
    XCTAssertEqual(try generate(["--max-new-tokens", "2"]).split(separator: "\n").map { $0.first }, ["A", "A"])
    try writeSettings(#"{"forced_bos_token_id": 68, "max_new_tokens": 0, "max_length": 9}"#)
    XCTAssertEqual(try generate(), "\n\n", "max_new_tokens wins over max_length")
  }

  func testBadSettingsAreNamedByFileAndKey() throws {
    try writeSettings(#"{"num_beams": 0}"#)
    for command in [["generate", "--model", model.path, "12"], ["evaluate", "--model", model.path, "--task", "arithmetic", "--count", "2"]] {
      let result = try CLI.run(command)
      XCTAssertNotEqual(result.status, 0)
      XCTAssertTrue(
        result.error.contains("\(model.appendingPathComponent("generation_config.json").path): field 'num_beams': must be at least 1"),
        result.error)
    }
  }

  func testImportedShardsGenerateAsTheOriginal() throws {
    try writeSettings(#"{"max_new_tokens": 5, "no_repeat_ngram_size": 2, "forced_bos_token_id": 68}"#)
    let sharded = folder.appendingPathComponent("sharded")
    let imported = try CLI.run(["teacher", "import", model.path, "--out", sharded.path, "--max-shard-size", "20KB"])
    XCTAssertEqual(imported.status, 0, imported.error)
    let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
    XCTAssertTrue(files.contains("model.safetensors.index.json"), "\(files)")
    XCTAssertTrue(files.contains("generation_config.json"), "\(files)")
    XCTAssertGreaterThan(files.filter { $0.hasPrefix("model-0") }.count, 1, "\(files)")
    // The settings came along: the forced first token shows.
    XCTAssertEqual(try generate(model: sharded).split(separator: "\n").map { $0.first }, ["A", "A"])
    XCTAssertEqual(try generate(model: sharded), try generate())
    // A sharded folder Tessera wrote may be replaced by the next import.
    let again = try CLI.run(["teacher", "import", model.path, "--out", sharded.path, "--dtype", "bf16"])
    XCTAssertEqual(again.status, 0, again.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: sharded.appendingPathComponent("model.safetensors.index.json").path))
  }
}
