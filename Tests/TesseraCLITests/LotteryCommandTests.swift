import Foundation
import XCTest

/// `tessera lottery` from the command line.
final class LotteryCommandTests: XCTestCase {
  private var folder: URL!

  override func setUpWithError() throws { folder = CLI.temporaryFolder() }
  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  /// A 2+2-layer, 16-wide T5 recipe on the dates task, checkpointing every 3 steps.
  private func writeRecipe(steps: Int = 9) throws -> URL {
    let url = folder.appendingPathComponent("tiny.json")
    try Data("""
      {"model": {"model_type": "t5", "d_model": 16, "d_kv": 8, "d_ff": 32, "num_heads": 2, "num_layers": 2,
                 "num_decoder_layers": 2, "dropout_rate": 0.1},
       "training": {"steps": \(steps), "warmup_steps": 2, "validate_every": 3, "checkpoint_every": 3, "seed": 4},
       "data": {"task": "dates", "train_examples": 64, "valid_examples": 8, "test_examples": 8, "batch_tokens": 256}}
      """.utf8).write(to: url)
    return url
  }

  private func arguments(_ recipe: URL, out: URL) -> [String] {
    ["lottery", "--recipe", recipe.path, "--rounds", "3", "--rate", "0.25", "--rewind", "2", "--out", out.path]
  }

  /// The curve without its timings, which differ from run to run.
  private func curveWithoutSeconds(_ out: URL) throws -> String {
    let text = try String(contentsOf: out.appendingPathComponent("curve.json"), encoding: .utf8)
    return text.split(separator: "\n").filter { !$0.contains("\"seconds\"") }.joined(separator: "\n")
  }

  /// A lottery killed with SIGKILL in round 2 and resumed ends with the
  /// uninterrupted run's curve and, byte for byte, its tickets, controls,
  /// masks and winning ticket; a fresh start over the unfinished run is refused.
  func testKilledLotteryResumesExactly() throws {
    let recipe = try writeRecipe()
    let straight = folder.appendingPathComponent("straight"), killed = folder.appendingPathComponent("killed")
    let uninterrupted = try CLI.run(arguments(recipe, out: straight))
    XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)
    XCTAssertTrue(uninterrupted.output.contains("winning ticket"), uninterrupted.output)

    let state = killed.appendingPathComponent("round-2/ticket/trainer_state.json")
    try CLI.runAndKill(arguments(recipe, out: killed)) { FileManager.default.fileExists(atPath: state.path) }
    XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("winning-ticket").path))
    let again = try CLI.run(arguments(recipe, out: killed))
    XCTAssertEqual(again.status, 2, "an unfinished run must not be silently restarted")
    XCTAssertTrue(again.error.contains("--resume"), again.error)
    let resumed = try CLI.run(arguments(recipe, out: killed) + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertTrue(resumed.output.contains("round 1: finished by the earlier run"), resumed.output)
    XCTAssertTrue(resumed.output.contains("round 2 ticket: resumed at step"), resumed.output)

    XCTAssertEqual(try curveWithoutSeconds(killed), try curveWithoutSeconds(straight))
    var files = ["rewind/model.safetensors", "dense/model.safetensors", "winning-ticket/model.safetensors"]
    for round in 1...3 {
      files += ["mask.safetensors", "ticket/model.safetensors", "control/model.safetensors"].map { "round-\(round)/\($0)" }
    }
    for file in files {
      XCTAssertEqual(
        try Data(contentsOf: killed.appendingPathComponent(file)), try Data(contentsOf: straight.appendingPathComponent(file)), file)
    }
    let report = try String(contentsOf: killed.appendingPathComponent("report.md"), encoding: .utf8)
    XCTAssertTrue(report.contains("| 3 | 57.8% |"), report)  // 1 − 0.75³
  }

  /// Bad arguments are refused before any work, naming the argument.
  func testLotteryRefusesBadArguments() throws {
    let recipe = try writeRecipe(steps: 4)
    let out = folder.appendingPathComponent("out")
    let base = ["lottery", "--recipe", recipe.path, "--out", out.path]
    let cases: [([String], [String])] = [
      (["--rounds", "0"], ["--rounds", "at least 1"]),
      (["--rounds", "2", "--rate", "1.5"], ["--rate", "between 0 and 1"]),
      (["--rounds", "2", "--rate", "0"], ["--rate"]),
      (["--rounds", "2", "--rate", "half"], ["--rate"]),
      (["--rounds", "2", "--rewind", "4"], ["--rewind", "step 4", "4 training steps"]),
      (["--rounds", "2", "--rewind", "9", "--steps", "20"], []),
      (["--rounds", "2", "--rewind", "-1"], ["--rewind", "negative"]),
      (["--rounds", "2", "--scope", "row"], ["--scope", "global or layer", "row"]),
      (["--rounds", "2", "--steps", "0"], ["--steps"]),
      ([], ["--rounds"]),
      (["--rounds", "2", "--resume", "--force"], ["--resume and --force"]),
      (["--rounds", "2", "--resume"], ["no lottery run to resume"]),
    ]
    for (extra, phrases) in cases where !phrases.isEmpty {
      let result = try CLI.run(base + extra)
      XCTAssertEqual(result.status, 2, "\(extra): \(result.error)")
      for phrase in phrases { XCTAssertTrue(result.error.contains(phrase), "\(extra): \(result.error)") }
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing is written on refusal")
    let missing = try CLI.run(["lottery", "--rounds", "2", "--out", out.path])
    XCTAssertEqual(missing.status, 2)
    XCTAssertTrue(missing.error.contains("--recipe"), missing.error)
    let noFile = try CLI.run(["lottery", "--recipe", folder.appendingPathComponent("nope.json").path, "--rounds", "2", "--out", out.path])
    XCTAssertNotEqual(noFile.status, 0)
    XCTAssertTrue(noFile.error.contains("nope.json"), noFile.error)

    // A folder holding files Tessera did not write is refused, even with --force, and left as it was.
    let notes = folder.appendingPathComponent("mine")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: notes.appendingPathComponent("notes.txt"))
    let refused = try CLI.run(["lottery", "--recipe", recipe.path, "--rounds", "1", "--out", notes.path, "--force"])
    XCTAssertEqual(refused.status, 1, refused.error)
    XCTAssertTrue(refused.error.contains("refusing to write a lottery-ticket run"), refused.error)
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("notes.txt"), encoding: .utf8), "keep")
    let help = try CLI.run(["lottery", "--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.output.contains("--rewind") && help.output.contains("EXAMPLES"), help.output)
  }
}
