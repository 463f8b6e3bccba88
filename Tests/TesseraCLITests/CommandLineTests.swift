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
    XCTAssertTrue(badRecipe.error.contains("r.json: field 'training.steps'"), badRecipe.error)
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
    // A flag the command would ignore is an error.
    let ignored = try CLI.run(["demo", "--retrain", "--checkpoints", folder.path, "--out", folder.appendingPathComponent("out").path])
    XCTAssertEqual(ignored.status, 2)
    XCTAssertTrue(ignored.error.contains("--checkpoints") && ignored.error.contains("--retrain"), ignored.error)
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

    // Starting again over a trained teacher without --resume or --force is refused, and changes nothing.
    let before = try Data(contentsOf: killed.appendingPathComponent("model.safetensors"))
    let again = try CLI.run(arguments(killed))
    XCTAssertEqual(again.status, 2)
    XCTAssertTrue(again.error.contains("--resume") && again.error.contains("--force"), again.error)
    XCTAssertEqual(try Data(contentsOf: killed.appendingPathComponent("model.safetensors")), before)
    let both = try CLI.run(arguments(killed) + ["--resume", "--force"])
    XCTAssertEqual(both.status, 2)
    XCTAssertTrue(both.error.contains("--resume and --force"), both.error)
    // --force starts over and trains the same teacher again.
    let forced = try CLI.run(arguments(killed) + ["--force"])
    XCTAssertEqual(forced.status, 0, forced.error)
    XCTAssertEqual(try losses(in: state), try losses(in: straight.appendingPathComponent("trainer_state.json")))
  }

  /// A folder holding files Tessera did not write is never replaced, even with --force.
  func testTeacherTrainRefusesAFolderItDidNotWrite() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let notes = folder.appendingPathComponent("notes.txt")
    try Data("mine".utf8).write(to: notes)
    for extra in [[], ["--force"]] {
      let result = try CLI.run(
        ["teacher", "train", "--task", "arithmetic", "--out", folder.path, "--steps", "1", "--layers", "1", "--decoder-layers", "1",
         "--d-model", "16", "--heads", "2", "--d-ff", "32", "--train-examples", "20", "--valid-examples", "4"] + extra)
      XCTAssertEqual(result.status, 1, result.error)
      XCTAssertTrue(result.error.contains("notes.txt"), result.error)
    }
    XCTAssertEqual(try String(contentsOf: notes, encoding: .utf8), "mine")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["notes.txt"])
  }

  /// SIGKILL between the two steps of a checkpoint swap (injected by a test hook), with
  /// the atomic exchange and with the two-rename fallback: `--resume` still finishes the
  /// run with exactly the losses of an uninterrupted one, and the leftovers are removed.
  func testTeacherKilledInsideTheCheckpointSwapStillResumes() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    func arguments(_ out: URL) -> [String] {
      ["teacher", "train", "--task", "arithmetic", "--out", out.path, "--steps", "10", "--layers", "1", "--decoder-layers", "1",
       "--d-model", "16", "--heads", "2", "--d-ff", "32", "--train-examples", "100", "--valid-examples", "10",
       "--batch-tokens", "256", "--checkpoint-every", "4", "--seed", "1"]
    }
    let straight = folder.appendingPathComponent("straight")
    let uninterrupted = try CLI.run(arguments(straight))
    XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)
    let expected = try losses(in: straight.appendingPathComponent("trainer_state.json"))

    for (name, extra) in [("exchange", [:]), ("renames", ["TESSERA_TEST_FOLDER_SWAP_WITHOUT_EXCHANGE": "1"])] {
      let out = folder.appendingPathComponent(name)
      // The first checkpoint (step 4) creates the folder; the second (step 8) replaces it and is killed.
      let killed = try CLI.run(arguments(out), environment: extra.merging(["TESSERA_TEST_KILL_IN_FOLDER_SWAP": "1"]) { $1 })
      XCTAssertEqual(killed.status, SIGKILL, "\(name): \(killed.error)")
      let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".\(name).") }
      XCTAssertFalse(leftovers.isEmpty, "\(name): the kill should leave the swap half done")

      let resumed = try CLI.run(arguments(out) + ["--resume"], environment: extra)
      XCTAssertEqual(resumed.status, 0, "\(name): \(resumed.error)")
      // The exchange leaves the new checkpoint in place; the fallback brings back the previous one.
      XCTAssertTrue(resumed.output.contains("resumed at step \(name == "exchange" ? 8 : 4)"), "\(name): \(resumed.output)")
      XCTAssertEqual(try losses(in: out.appendingPathComponent("trainer_state.json")), expected, name)
      XCTAssertEqual(
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".\(name).") }, [],
        "\(name): leftovers are removed by the next successful swap")
    }
  }

  /// The recipe's sampling and granularities hold unless a flag is typed: flag defaults never override them.
  func testModulesTrainKeepsTheRecipesValues() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    let recipe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Recipes/demo-modules.json")
    let registry = folder.appendingPathComponent("registry")
    let result = try CLI.run([
      "modules", "train", "--recipe", recipe.path, "--teacher", teacher.path, "--registry", registry.path, "--steps", "1",
      "--train-examples", "32", "--batch-tokens", "256", "--probe-examples", "0",
    ])
    XCTAssertEqual(result.status, 0, result.error)
    XCTAssertTrue(result.output.contains("granularities 2,3,6"), result.output)
    XCTAssertTrue(result.output.contains("every sampling"), result.output)
    let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: registry.appendingPathComponent("manifest.json"))) as? [String: Any]
    let entries = try XCTUnwrap(manifest?["modules"] as? [[String: Any]])
    let ids = entries.compactMap { $0["id"] as? String }
    let recipes = Set(entries.compactMap { ($0["provenance"] as? [String: Any])?["recipe"] as? String })
    XCTAssertEqual(recipes, [recipe.path], "every module records the recipe it was trained by")
    XCTAssertTrue(ids.contains("encoder.g3.0") && ids.contains("decoder.g2.1"), "\(ids)")
    // A typed flag does override the recipe.
    let flagged = try CLI.run([
      "modules", "train", "--recipe", recipe.path, "--teacher", teacher.path, "--registry", folder.appendingPathComponent("r2").path,
      "--steps", "1", "--train-examples", "32", "--batch-tokens", "256", "--probe-examples", "0", "--sampling", "per-step",
      "--granularities", "2",
    ])
    XCTAssertEqual(flagged.status, 0, flagged.error)
    XCTAssertTrue(flagged.output.contains("granularities 2)") && flagged.output.contains("per-step sampling"), flagged.output)
  }

  /// `modules train` killed with SIGKILL and resumed writes exactly the modules of an uninterrupted run.
  func testKilledModuleTrainingResumesExactly() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    func arguments(_ registry: URL) -> [String] {
      ["modules", "train", "--teacher", teacher.path, "--task", "dates", "--registry", registry.path, "--granularities", "2,4",
       "--sampling", "mixed", "--steps", "60", "--checkpoint-every", "5", "--train-examples", "64", "--valid-examples", "8",
       "--batch-tokens", "256", "--probe-examples", "4", "--seed", "2"]
    }
    let straight = folder.appendingPathComponent("straight")
    let uninterrupted = try CLI.run(arguments(straight))
    XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)

    let killed = folder.appendingPathComponent("killed")
    let checkpoint = killed.appendingPathComponent("training-checkpoint")
    try CLI.runAndKill(arguments(killed)) {
      FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("trainer_state.json").path)
    }

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
