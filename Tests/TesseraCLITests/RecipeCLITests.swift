import Foundation
import XCTest

/// What the command line does with a bad recipe, bad `TESSERA_*` values and `--threads 0`.
final class RecipeCLITests: XCTestCase {
  private var folder: URL!

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  func testTeacherTrainRefusesAMisspeltRecipeKeyBeforeWritingAnything() throws {
    try Data(#"{"training": {"steps": 2, "learning_rte": 0.01}, "data": {"task": "dates"}}"#.utf8)
      .write(to: folder.appendingPathComponent("bad.json"))
    let result = try CLI.run(["teacher", "train", "--recipe", "bad.json", "--out", "teacher"], in: folder)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.error.contains("bad.json: field 'training.learning_rte': unknown field"), result.error)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("teacher").path))
  }

  func testModulesTrainRefusesAKeyGivenTwice() throws {
    try Data("{\"modules\": {\"steps\": 2,\n \"steps\": 3}}".utf8).write(to: folder.appendingPathComponent("twice.json"))
    let result = try CLI.run(["modules", "train", "--recipe", "twice.json", "--teacher", "t", "--registry", "r"], in: folder)
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.error.contains("twice.json: invalid JSON at line 2, column 2") && result.error.contains("duplicate key 'steps' in 'modules'"), result.error)
  }

  func testBadEnvironmentValuesAreWarnedOnce() throws {
    let result = try CLI.run(["data", "tasks"], in: folder, environment: ["TESSERA_THREADS": "lots", "TESSERA_SIMD": "avx9"])
    XCTAssertEqual(result.status, 0, result.error)
    let lines = result.error.split(separator: "\n")
    XCTAssertEqual(lines.filter { $0.contains("TESSERA_THREADS='lots'") }.count, 1, result.error)
    XCTAssertEqual(lines.filter { $0.contains("TESSERA_SIMD='avx9'") }.count, 1, result.error)
    XCTAssertTrue(result.error.contains("threads, one per core"), result.error)
  }

  func testThreadsZeroIsRefused() throws {
    for arguments in [["bench", "model", "--threads", "0"], ["bench", "ops", "--threads", "0"], ["bench", "gemm", "--threads", "0"]] {
      let result = try CLI.run(arguments, in: folder)
      XCTAssertNotEqual(result.status, 0, "\(arguments)")
      XCTAssertTrue(result.error.contains("--threads"), "\(arguments): \(result.error)")
    }
  }

  func testBenchmarkShapesAndGranularitiesAreChecked() throws {
    let cases: [([String], String)] = [
      (["bench", "model", "--shape", "t5-huge"], "--shape expects small|t5-small|bart-base, got 't5-huge'"),
      (["bench", "modules", "--shape", "small", "--model", "somewhere"], "give --model or --shape, not both"),
      (["bench", "modules", "--granularities", "2,1"], "--granularities expects integers of at least 2, got '1'"),
      (["bench", "modules", "--granularities", "3,3"], "lists a granularity twice"),
    ]
    for (arguments, message) in cases {
      let result = try CLI.run(arguments, in: folder)
      XCTAssertNotEqual(result.status, 0, "\(arguments)")
      XCTAssertTrue(result.error.contains(message), "\(arguments): \(result.error)")
    }
  }
}
