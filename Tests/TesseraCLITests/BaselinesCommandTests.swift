import Foundation
import XCTest

/// `tessera baselines train|sweep` from the command line.
final class BaselinesCommandTests: XCTestCase {
  private func steps(in state: URL) throws -> Int {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any]
    return object?["step"] as? Int ?? 0
  }

  /// kd and pseudo-labels killed with SIGKILL mid-run and resumed write exactly
  /// the weights of an uninterrupted run, and then their record.
  func testKilledBaselineResumesBitIdentical() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    for method in ["kd", "pseudo-labels"] {
      let resumed = try assertKilledRunResumesExactly(
        method: method, teacher: teacher, folder: folder, steps: 20, checkpointEvery: 4, checkpoint: "trainer_state.json")
      XCTAssertTrue(resumed.output.contains("resumed at step"), resumed.output)
      if method == "pseudo-labels" { XCTAssertTrue(resumed.output.contains("from the cache"), resumed.output) }
    }
  }

  /// theseus killed during its module run resumes it and assembles exactly the uninterrupted run's model.
  func testKilledTheseusResumesBitIdentical() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    try assertKilledRunResumesExactly(
      method: "theseus", teacher: teacher, folder: folder, steps: 12, checkpointEvery: 3,
      checkpoint: "modules/training-checkpoint/trainer_state.json")
  }

  /// Trains `method` straight and again killed after its first checkpoint (the
  /// trainer state at `checkpoint` inside the output) then resumed; checks that
  /// a fresh start over the unfinished run is refused, and that the resumed
  /// run has the same `model.safetensors`, byte for byte, and its record.
  @discardableResult
  private func assertKilledRunResumesExactly(
    method: String, teacher: URL, folder: URL, steps total: Int, checkpointEvery: Int, checkpoint: String
  ) throws -> CLI.Result {
    func arguments(_ out: URL) -> [String] {
      ["baselines", "train", "--teacher", teacher.path, "--method", method, "--ratio", "2", "--task", "dates",
       "--train-examples", "64", "--valid-examples", "8", "--batch-tokens", "256", "--steps", "\(total)",
       "--checkpoint-every", "\(checkpointEvery)", "--seed", "2", "--out", out.path]
    }
    let straight = folder.appendingPathComponent("\(method)-straight")
    let uninterrupted = try CLI.run(arguments(straight))
    XCTAssertEqual(uninterrupted.status, 0, uninterrupted.error)

    let killed = folder.appendingPathComponent("\(method)-killed")
    let state = killed.appendingPathComponent(checkpoint)
    try CLI.runAndKill(arguments(killed)) { (try? self.steps(in: state)) ?? 0 >= checkpointEvery }
    XCTAssertLessThan(try steps(in: state), total, method)
    XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("baseline.json").path), method)

    let again = try CLI.run(arguments(killed))
    XCTAssertEqual(again.status, 2, "\(method): an unfinished run must not be silently restarted")
    XCTAssertTrue(again.error.contains("--resume"), again.error)
    let resumed = try CLI.run(arguments(killed) + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertEqual(
      try Data(contentsOf: killed.appendingPathComponent("model.safetensors")),
      try Data(contentsOf: straight.appendingPathComponent("model.safetensors")), "\(method): bit-identical weights")
    let record = try JSONSerialization.jsonObject(with: Data(contentsOf: killed.appendingPathComponent("baseline.json"))) as? [String: Any]
    XCTAssertEqual(record?["method"] as? String, method)
    XCTAssertEqual(record?["steps"] as? Int, total)
    return resumed
  }

  /// Bad arguments are refused before any work, naming the argument.
  func testBaselinesRefuseBadArguments() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    let out = folder.appendingPathComponent("out")
    func train(_ extra: [String], out: URL = out) throws -> CLI.Result {
      try CLI.run(["baselines", "train", "--teacher", teacher.path, "--task", "dates", "--steps", "1", "--out", out.path] + extra)
    }
    let cases: [([String], Int32, [String])] = [
      (["--method", "distil", "--ratio", "2"], 1, ["--method", "distil", "scratch, sft, kd, pseudo-labels, theseus"]),
      (["--method", "kd", "--ratio", "0.5"], 2, ["--ratio", "at least 1"]),
      (["--method", "kd", "--ratio", "two"], 2, ["--ratio", "not a number"]),
      (["--method", "kd", "--ratio", "9"], 1, ["cannot reach ratio"]),
      (["--method", "kd", "--ratio", "2", "--strategy", "pareto"], 2, ["--strategy"]),
      (["--ratio", "2"], 2, ["--method"]),
      (["--method", "polish"], 2, ["--from DIR is required"]),
      (["--method", "polish", "--from", teacher.path, "--ratio", "2"], 2, ["leave out --ratio"]),
      (["--method", "kd", "--ratio", "2", "--from", teacher.path], 2, ["--from is for --method polish"]),
      (["--method", "polish", "--from", teacher.path], 1, [teacher.path, "not an assembled model"]),
    ]
    for (extra, status, phrases) in cases {
      let result = try train(extra)
      XCTAssertEqual(result.status, status, "\(extra): \(result.error)")
      for phrase in phrases { XCTAssertTrue(result.error.contains(phrase), "\(extra): \(result.error)") }
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing is written on refusal")

    // --out holding files Tessera did not write, or the teacher itself, is refused even with --force.
    let notes = folder.appendingPathComponent("mine")
    try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: notes.appendingPathComponent("notes.txt"))
    for target in [notes, teacher] {
      let result = try train(["--method", "sft", "--ratio", "2", "--force"], out: target)
      XCTAssertEqual(result.status, 1, result.error)
      XCTAssertTrue(result.error.contains("refusing to write a baseline student"), result.error)
    }
    XCTAssertEqual(try String(contentsOf: notes.appendingPathComponent("notes.txt"), encoding: .utf8), "keep")

    let sweep = try CLI.run(["baselines", "sweep", "--teacher", teacher.path, "--task", "dates", "--methods", "kd,nope",
                             "--ratios", "2", "--out", out.path])
    XCTAssertEqual(sweep.status, 1, sweep.error)
    XCTAssertTrue(sweep.error.contains("nope"), sweep.error)
    let unreachable = try CLI.run(["baselines", "sweep", "--teacher", teacher.path, "--task", "dates", "--methods", "sft",
                                   "--ratios", "2,9", "--out", out.path])
    XCTAssertEqual(unreachable.status, 1, unreachable.error)
    XCTAssertTrue(unreachable.error.contains("cannot reach ratio 9"), unreachable.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no member trains before every ratio is checked")
    let help = try CLI.run(["baselines", "train", "--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.output.contains("--method") && help.output.contains("pseudo-labels"), help.output)
  }

  /// A sweep trains methods × ratios into named members sharing one label cache; --resume skips finished members.
  func testSweepTrainsEveryMemberAndResumesBySkipping() throws {
    let folder = CLI.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let teacher = try CLI.trainTinyTeacher(in: folder)
    let out = folder.appendingPathComponent("sweep")
    let arguments = [
      "baselines", "sweep", "--teacher", teacher.path, "--methods", "sft,pseudo-labels", "--ratios", "2,4", "--task", "dates",
      "--train-examples", "32", "--valid-examples", "4", "--batch-tokens", "256", "--steps", "2", "--out", out.path,
    ]
    let first = try CLI.run(arguments)
    XCTAssertEqual(first.status, 0, first.error)
    let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
    XCTAssertEqual(names, ["pseudo-labels-2x", "pseudo-labels-4x", "pseudo-labels.tsv", "sft-2x", "sft-4x", "sweep.json"])
    XCTAssertTrue(first.output.contains("pseudo-labels: 32 from the cache"), first.output)
    let resumed = try CLI.run(arguments + ["--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.error)
    XCTAssertEqual(resumed.output.components(separatedBy: "finished earlier, kept").count - 1, 4, resumed.output)
  }
}
