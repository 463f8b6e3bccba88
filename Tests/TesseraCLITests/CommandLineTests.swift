import Foundation
import XCTest

final class CommandLineTests: XCTestCase {
  func testHelpVersionAndUsageErrors() throws {
    let help = try CLI.run(["--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.output.contains("teacher train"))
    XCTAssertTrue(help.output.contains("bench gemm"))
    XCTAssertEqual(try CLI.run(["--version"]).output, "tessera 0.1.0\n")

    let unknown = try CLI.run(["frobnicate"])
    XCTAssertEqual(unknown.status, 2)
    XCTAssertTrue(unknown.error.contains("unknown command 'frobnicate'"))
    let unknownSub = try CLI.run(["teacher", "fly"])
    XCTAssertEqual(unknownSub.status, 2)
    XCTAssertTrue(unknownSub.error.contains("unknown subcommand 'teacher fly'"))
    let badFlag = try CLI.run(["teacher", "train", "--speed", "3"])
    XCTAssertEqual(badFlag.status, 2)
    XCTAssertTrue(badFlag.error.contains("unknown option '--speed'"))
    let subHelp = try CLI.run(["teacher", "train", "--help"])
    XCTAssertEqual(subHelp.status, 0)
    XCTAssertTrue(subHelp.output.contains("--resume"))
  }

  func testBadInputNamesTheFile() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let missing = try CLI.run(["teacher", "import", folder.path, "--out", folder.appendingPathComponent("x").path])
    XCTAssertEqual(missing.status, 1)
    XCTAssertTrue(missing.error.contains(folder.appendingPathComponent("config.json").path), missing.error)
    let recipe = folder.appendingPathComponent("r.json")
    try Data(#"{"training": {"steps": -3}}"#.utf8).write(to: recipe)
    let badRecipe = try CLI.run(["teacher", "train", "--recipe", recipe.path, "--task", "arithmetic", "--out", folder.path])
    XCTAssertEqual(badRecipe.status, 1)
    XCTAssertTrue(badRecipe.error.contains("r.json: training: field 'steps'"), badRecipe.error)
  }

  func testModuleCompareAndDemoUsageErrorsNameTheArgument() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let registry = folder.appendingPathComponent("registry").path
    let cases: [([String], String)] = [
      (["modules", "train", "--teacher", folder.path, "--task", "dates", "--registry", registry, "--sampling", "sometimes"], "--sampling"),
      (["modules", "train", "--teacher", folder.path, "--task", "dates", "--registry", registry, "--granularities", "1,2"], "granularities"),
      (["modules", "train", "--teacher", folder.path, "--task", "dates", "--registry", registry, "--weights", "style=2"], "unknown loss 'style'"),
      (["compare", "--registry", registry, "--task", "dates", "--ratios", "0.5"], "--ratios"),
      (["compare", "--registry", registry, "--task", "dates", "--strategies", "fastest"], "unknown strategy 'fastest'"),
    ]
    for (arguments, expected) in cases {
      let result = try CLI.run(arguments)
      XCTAssertEqual(result.status, 2, "\(arguments): \(result.error)")
      XCTAssertTrue(result.error.contains(expected), "\(arguments): \(result.error)")
    }
    let noRegistry = try CLI.run(["demo", "--checkpoints", folder.path, "--out", folder.appendingPathComponent("out").path])
    XCTAssertEqual(noRegistry.status, 2)
    XCTAssertTrue(noRegistry.error.contains("holds no registry"), noRegistry.error)
    XCTAssertTrue(noRegistry.error.contains("--retrain"), noRegistry.error)
  }

  /// `teacher train` killed with SIGKILL and resumed has exactly the losses of an uninterrupted run.
  func testKilledTeacherTrainingResumesExactly() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    func arguments(_ out: URL) -> [String] {
      ["teacher", "train", "--task", "arithmetic", "--out", out.path, "--steps", "16", "--layers", "1", "--decoder-layers", "2",
       "--d-model", "32", "--heads", "2", "--d-ff", "64", "--train-examples", "200", "--valid-examples", "20",
       "--batch-tokens", "256", "--checkpoint-every", "4", "--validate-every", "8", "--seed", "3"]
    }
    let straight = folder.appendingPathComponent("straight")
    XCTAssertEqual(try CLI.run(arguments(straight)).status, 0)

    let killed = folder.appendingPathComponent("killed")
    let state = killed.appendingPathComponent("trainer_state.json")
    try CLI.runAndKill(arguments(killed)) { (try? self.steps(in: state)) ?? 0 >= 4 }
    let atKill = try steps(in: state)
    XCTAssertLessThan(atKill, 16)

    let resumed = try CLI.run(arguments(killed) + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertTrue(resumed.output.contains("resumed at step \(atKill)"), resumed.output)
    XCTAssertEqual(try losses(in: state), try losses(in: straight.appendingPathComponent("trainer_state.json")))
    XCTAssertEqual(try losses(in: state).count, 16)

    // Starting again over an existing checkpoint without --resume is refused.
    let again = try CLI.run(arguments(killed))
    XCTAssertEqual(again.status, 2)
    XCTAssertTrue(again.error.contains("--resume"))
  }

  /// `modules train` killed with SIGKILL and resumed writes exactly the modules of an uninterrupted run.
  func testKilledModuleTrainingResumesExactly() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = folder.appendingPathComponent("teacher")
    let trained = try CLI.run([
      "teacher", "train", "--task", "dates", "--out", teacher.path, "--steps", "2", "--layers", "4", "--decoder-layers", "4",
      "--d-model", "16", "--heads", "2", "--d-ff", "32", "--train-examples", "64", "--valid-examples", "8",
      "--batch-tokens", "256",
    ])
    XCTAssertEqual(trained.status, 0, trained.error)
    func arguments(_ registry: URL) -> [String] {
      ["modules", "train", "--teacher", teacher.path, "--task", "dates", "--registry", registry.path, "--granularities", "2,4",
       "--sampling", "mixed", "--steps", "60", "--checkpoint-every", "5", "--train-examples", "64", "--valid-examples", "8",
       "--batch-tokens", "256", "--probe-examples", "4", "--seed", "2"]
    }
    let straight = folder.appendingPathComponent("straight")
    let uninterrupted = try CLI.run(arguments(straight))
    XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)

    let killed = folder.appendingPathComponent("killed")
    let checkpoint = killed.appendingPathComponent("training-checkpoint.safetensors")
    try CLI.runAndKill(arguments(killed)) { FileManager.default.fileExists(atPath: checkpoint.path) }

    let again = try CLI.run(arguments(killed))
    XCTAssertEqual(again.status, 2, "an unfinished run must not be silently restarted")
    XCTAssertTrue(again.error.contains("--resume"), again.error)
    let resumed = try CLI.run(arguments(killed) + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertTrue(resumed.output.contains("resumed at step"), resumed.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.path), "the checkpoint is removed once the modules are saved")

    // Same module files, byte for byte, and both registries probed.
    func checksums(_ registry: URL) throws -> [String: String] {
      let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: registry.appendingPathComponent("manifest.json"))) as? [String: Any]
      let modules = try XCTUnwrap(manifest?["modules"] as? [[String: Any]])
      XCTAssertTrue(modules.allSatisfy { ($0["validation"] as? [String: Any])?["loss"] != nil }, "every module is probed")
      return Dictionary(uniqueKeysWithValues: modules.map { ($0["id"] as! String, $0["sha256"] as! String) })
    }
    let expected = try checksums(straight)
    XCTAssertEqual(expected.count, 6)  // g2: 2 + 2, g4: 1 + 1
    XCTAssertEqual(try checksums(killed), expected)
  }

  /// A tiny teacher trained by `teacher train --task arithmetic` and scored by `evaluate`.
  func testTrainThenEvaluateOnArithmetic() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = folder.appendingPathComponent("teacher")
    let train = try CLI.run([
      "teacher", "train", "--task", "arithmetic", "--out", model.path, "--steps", "40", "--layers", "1", "--decoder-layers", "1",
      "--d-model", "32", "--heads", "2", "--d-ff", "64", "--train-examples", "300", "--valid-examples", "20", "--batch-tokens", "512",
      "--lr", "0.01", "--warmup", "5",
    ])
    XCTAssertEqual(train.status, 0, train.error)
    let json = folder.appendingPathComponent("scores.json"), predictions = folder.appendingPathComponent("predictions.txt")
    let evaluate = try CLI.run([
      "evaluate", "--model", model.path, "--task", "arithmetic", "--count", "24", "--metrics", "em,chrf",
      "--json", json.path, "--predictions", predictions.path,
    ])
    XCTAssertEqual(evaluate.status, 0, evaluate.error)
    XCTAssertTrue(evaluate.output.contains("EM"), evaluate.output)
    let result = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
    XCTAssertEqual(result?["examples"] as? Int, 24)
    let loss = try XCTUnwrap(result?["loss"] as? Double)
    // Better than guessing uniformly over the 259 byte-level tokens (ln 259 ≈ 5.56).
    XCTAssertLessThan(loss, 5.0)
    let metrics = try XCTUnwrap(result?["metrics"] as? [[String: Any]])
    XCTAssertEqual(metrics.compactMap { $0["name"] as? String }, ["EM", "chrF"])
    XCTAssertEqual(try String(contentsOf: predictions, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count, 25)
  }

  private func steps(in url: URL) throws -> Int {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
    return object?["step"] as? Int ?? 0
  }

  private func losses(in url: URL) throws -> [Double] {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
    return (object?["losses"] as? [Double]) ?? (object?["losses"] as? [NSNumber])?.map(\.doubleValue) ?? []
  }
}
