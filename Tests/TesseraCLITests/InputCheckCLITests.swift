import Foundation
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

/// Bad inputs to generate, forward and evaluate end in a clear error (exit
/// status 1 or 2), never in a crash or an ignored flag.
final class InputCheckCLITests: TinyModelCLITestCase {
  /// Runs `tessera` and expects a clear error: a normal exit with a failing status, `message` in standard error.
  private func assertRefused(
    _ arguments: [String], input: Data? = nil, _ message: String, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = arguments
    let err = Pipe(), stdin = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = err
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(input) }
    try stdin.fileHandleForWriting.close()
    let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .exit, "crashed: \(error)", file: file, line: line)
    XCTAssertNotEqual(process.terminationStatus, 0, file: file, line: line)
    XCTAssertTrue(error.contains(message), "expected '\(message)' in: \(error)", file: file, line: line)
  }

  private func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
    let url = model.appendingPathComponent("config.json")
    var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    edit(&config)
    try JSONSerialization.data(withJSONObject: config).write(to: url)
  }

  func testConfigTokenIDsOutsideTheVocabularyAreAClearError() throws {
    try editConfig { $0["decoder_start_token_id"] = 999999 }
    try assertRefused(
      ["generate", "--model", model.path, "12"],
      "config.json: field 'decoder_start_token_id': token id 999999 is outside the vocabulary 0..<259")
    try editConfig { $0["decoder_start_token_id"] = 0; $0["layer_norm_epsilon"] = -1 }
    try assertRefused(["generate", "--model", model.path, "12"], "field 'layer_norm_epsilon'")
  }

  func testNaNWeightIsRefusedNamingTheTensor() throws {
    let url = model.appendingPathComponent("model.safetensors")
    var tensors = try SafeTensorsFile.read(from: url).tensors
    var values = tensors["shared.weight"]!.scalars
    values[7] = .nan
    tensors["shared.weight"] = Tensor(values, shape: tensors["shared.weight"]!.shape)
    try SafeTensorsFile(tensors: tensors).write(to: url)
    try assertRefused(["generate", "--model", model.path, "12"], "tensor 'shared.weight' holds nan at element 7")
  }

  func testForwardChecksIdsAndMasks() throws {
    let inputs = folder.appendingPathComponent("inputs.safetensors"), out = folder.appendingPathComponent("out.safetensors")
    func write(ids: [Float], mask: [Float] = [1, 1, 1]) throws {
      try SafeTensorsFile(tensors: [
        "input_ids": Tensor(ids, shape: [1, 3]), "attention_mask": Tensor(mask, shape: [1, 3]),
        "decoder_input_ids": Tensor([0, 5], shape: [1, 2]),
      ]).write(to: inputs)
    }
    let arguments = ["forward", "--model", model.path, "--inputs", inputs.path, "--out", out.path]
    try write(ids: [5, 300000, 1])
    try assertRefused(arguments, "input_ids[1]: token id 300000 is outside the vocabulary 0..<259")
    try write(ids: [5, 6.5, 1])
    try assertRefused(arguments, "input_ids[1]: 6.5 is not a token id")
    try write(ids: [5, 6, 1], mask: [1, 2, 1])
    try assertRefused(arguments, "attention_mask[1]: a mask holds 0 or 1, got 2.0")
    try write(ids: [5, 6, 1])
    XCTAssertEqual(try CLI.run(arguments).status, 0)
  }

  func testGenerateBoundsBeamsSourcesAndRefusesInvalidUTF8() throws {
    try assertRefused(["generate", "--model", model.path, "--beams", "100000", "12"], "--beams: 100000 beams exceed the 259-token vocabulary")
    try assertRefused(
      ["generate", "--model", model.path, String(repeating: "7", count: 13000)],
      "input 1 has 13001 tokens, more than 512 (the maximum source length); raise --max-source-tokens")
    try assertRefused(["generate", "--model", model.path, "--max-source-tokens", "0", "12"], "--max-source-tokens must be at least 1")
    try assertRefused(
      ["generate", "--model", model.path], input: Data(Array("12\n".utf8) + [0x34, 0xFF, 0x0A]),
      "standard input: line 2: invalid UTF-8 at byte offset 4")
  }

  func testATokenizerLargerThanTheModelIsRefused() throws {
    let small = folder.appendingPathComponent("small")
    try Self.saveTinyModel(to: small, vocabularySize: 100)
    try assertRefused(["generate", "--model", small.path, "12"], "has 259 tokens but the model in \(small.path) only 100 embeddings")
    // Module training checks the teacher's tokenizer the same way, before any step.
    let registry = folder.appendingPathComponent("registry")
    try assertRefused(
      ["modules", "train", "--teacher", small.path, "--task", "arithmetic", "--registry", registry.path, "--steps", "1"],
      "only 100 embeddings")
    XCTAssertFalse(FileManager.default.fileExists(atPath: registry.appendingPathComponent("manifest.json").path))
  }

  func testEvaluateRefusesConflictingSourcesAndHonoursCountWithData() throws {
    let data = folder.appendingPathComponent("data.jsonl")
    let lines = (0..<5).map { #"{"source": "\#($0) + 1", "target": "\#($0 + 1)"}"# }
    try Data(lines.joined(separator: "\n").utf8).write(to: data)
    try assertRefused(["evaluate", "--model", model.path, "--task", "arithmetic", "--data", data.path], "not both")
    try assertRefused(["evaluate", "--model", model.path, "--data", data.path, "--split", "valid"], "--split applies to --task")
    try assertRefused(["evaluate", "--model", model.path, "--data", data.path, "--count", "9"], "more than the 5 examples")
    try assertRefused(["evaluate", "--model", model.path, "--task", "arithmetic", "--count", "0"], "--count must be between 1 and")
    let json = folder.appendingPathComponent("scores.json")
    let result = try CLI.run(["evaluate", "--model", model.path, "--data", data.path, "--count", "2", "--metrics", "em", "--json", json.path])
    XCTAssertEqual(result.status, 0, result.error)
    let scores = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
    XCTAssertEqual(scores?["examples"] as? Int, 2)
  }
}
