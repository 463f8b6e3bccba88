import Foundation
import TensorCore
import XCTest

/// `mpirun -np 2 tessera …` against one process: the same losses, the same
/// modules run after run, a killed rank stopping the run and `--resume`
/// continuing it. Skipped where Open MPI's `mpirun` is missing (`.ci/run` installs it).
final class DataParallelCLITests: XCTestCase {
  private var folder: URL!

  override func setUpWithError() throws {
    guard Self.mpirun != nil else { throw XCTSkip("mpirun not found (apt-get install openmpi-bin libopenmpi3)") }
    folder = CLI.temporaryFolder()
  }

  override func tearDown() {
    if let folder { try? FileManager.default.removeItem(at: folder) }
  }

  static let mpirun: URL? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map(URL.init(fileURLWithPath:))
    .first { FileManager.default.isExecutableFile(atPath: $0.path) }

  /// A small teacher run with dropout (the recipe's default), checkpointing every step.
  private func teacherArguments(out: URL, steps: Int = 6) -> [String] {
    [
      "teacher", "train", "--task", "dates", "--out", out.path, "--steps", "\(steps)", "--layers", "2", "--decoder-layers", "2",
      "--d-model", "32", "--heads", "2", "--d-ff", "64", "--train-examples", "128", "--valid-examples", "8",
      "--batch-tokens", "1024", "--checkpoint-every", "1", "--validate-every", "3",
    ]
  }

  private func mpiProcess(_ ranks: Int, _ arguments: [String]) -> Process {
    let process = Process()
    process.executableURL = Self.mpirun
    process.arguments = ["-np", "\(ranks)", "--oversubscribe", CLI.binary.path] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(
      ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "TESSERA_THREADS": "1"]) { _, set in set }
    return process
  }

  /// Runs to the end; returns the exit status and both streams together.
  private func runMPIToEnd(_ ranks: Int, _ arguments: [String]) throws -> (status: Int32, text: String) {
    let process = mpiProcess(ranks, arguments)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
  }

  @discardableResult
  private func runMPI(_ ranks: Int, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let (status, text) = try runMPIToEnd(ranks, arguments)
    XCTAssertEqual(status, 0, text, file: file, line: line)
    return text
  }

  private func losses(_ out: URL) throws -> [Double] {
    let data = try Data(contentsOf: out.appendingPathComponent("trainer_state.json"))
    let state = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    return try XCTUnwrap(state["losses"] as? [Double])
  }

  private func assertSameLosses(_ a: [Double], _ b: [Double], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) {
      XCTAssertLessThanOrEqual(abs(x - y), 1e-5 * abs(x), "losses \(a) against \(b)", file: file, line: line)
    }
  }

  func testTwoRanksTrainTheTeacherOneProcessWould() throws {
    let single = folder.appendingPathComponent("single"), shared = folder.appendingPathComponent("shared")
    let alone = try CLI.run(teacherArguments(out: single), environment: ["TESSERA_THREADS": "1"])
    XCTAssertEqual(alone.status, 0, alone.error)
    let printed = try runMPI(2, teacherArguments(out: shared))
    XCTAssertTrue(printed.contains("data-parallel over 2 processes"), printed)
    // Rank 0 alone printed the progress: one "saved" line.
    XCTAssertEqual(printed.components(separatedBy: "saved ").count - 1, 1, printed)
    assertSameLosses(try losses(single), try losses(shared))
    let names = try FileManager.default.contentsOfDirectory(atPath: shared.path).filter { !$0.hasPrefix(".") }.sorted()
    let singleNames = try FileManager.default.contentsOfDirectory(atPath: single.path).filter { !$0.hasPrefix(".") }.sorted()
    XCTAssertEqual(names, singleNames)
  }

  func testTwoRanksTrainTheModulesOneProcessWouldTheSameTwiceInARow() throws {
    let teacher = try CLI.trainTinyTeacher(in: folder)
    // Every loss term: the hidden-state and attention errors are normalised by sums over the processes.
    func arguments(_ registry: URL) -> [String] {
      [
        "modules", "train", "--teacher", teacher.path, "--registry", registry.path, "--task", "dates", "--train-examples", "64",
        "--valid-examples", "8", "--batch-tokens", "256", "--granularities", "2,4", "--steps", "6", "--probe-examples", "0",
        "--local-fraction", "0.34", "--weights", "cross_entropy=1,logits=1,hidden=1,attention=1",
      ]
    }
    func modules(_ registry: URL) throws -> [String: Data] {
      let files = try FileManager.default.contentsOfDirectory(atPath: registry.path).filter { $0.hasSuffix(".safetensors") }
      return try Dictionary(uniqueKeysWithValues: files.map { ($0, try Data(contentsOf: registry.appendingPathComponent($0))) })
    }
    let single = folder.appendingPathComponent("single")
    let alone = try CLI.run(arguments(single), environment: ["TESSERA_THREADS": "1"])
    XCTAssertEqual(alone.status, 0, alone.error)
    let first = folder.appendingPathComponent("first"), second = folder.appendingPathComponent("second")
    try runMPI(2, arguments(first))
    try runMPI(2, arguments(second))
    let firstModules = try modules(first)
    XCTAssertEqual(firstModules.count, 6)
    XCTAssertEqual(firstModules, try modules(second), "two 2-rank runs wrote different modules")
    for name in firstModules.keys.sorted() {
      let shared = try SafeTensorsFile.read(from: first.appendingPathComponent(name)).tensors
      let reference = try SafeTensorsFile.read(from: single.appendingPathComponent(name)).tensors
      XCTAssertEqual(Set(shared.keys), Set(reference.keys))
      for (key, tensor) in reference {
        let other = try XCTUnwrap(shared[key]).scalars, values = tensor.scalars
        let largest = values.map(abs).max() ?? 0
        let difference = zip(values, other).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(difference, 1e-5 * max(largest, 1e-6), "\(name) \(key)")
      }
    }
  }

  func testTwoRanksTrainTheBaselinesOneProcessWould() throws {
    let teacher = try CLI.trainTinyTeacher(in: folder)
    func arguments(_ out: URL) -> [String] {
      [
        "baselines", "sweep", "--teacher", teacher.path, "--methods", "kd,pseudo-labels,theseus", "--ratios", "2", "--task",
        "dates", "--train-examples", "64", "--valid-examples", "8", "--batch-tokens", "256", "--steps", "4", "--out", out.path,
      ]
    }
    let single = folder.appendingPathComponent("single"), shared = folder.appendingPathComponent("shared")
    let alone = try CLI.run(arguments(single), environment: ["TESSERA_THREADS": "1"])
    XCTAssertEqual(alone.status, 0, alone.error)
    try runMPI(2, arguments(shared))
    for member in ["kd-2x", "pseudo-labels-2x", "theseus-2x"] {
      let reference = try losses(single.appendingPathComponent(member))
      XCTAssertEqual(reference.count, 4, member)
      assertSameLosses(reference, try losses(shared.appendingPathComponent(member)))
      XCTAssertTrue(FileManager.default.fileExists(atPath: shared.appendingPathComponent("\(member)/baseline.json").path), member)
    }
  }

  func testAKilledRankStopsTheRunAndResumeContinuesIt() throws {
    let whole = folder.appendingPathComponent("whole"), killed = folder.appendingPathComponent("killed")
    let steps = 30
    let alone = try CLI.run(teacherArguments(out: whole, steps: steps), environment: ["TESSERA_THREADS": "1"])
    XCTAssertEqual(alone.status, 0, alone.error)
    let process = mpiProcess(2, teacherArguments(out: killed, steps: steps))
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let state = killed.appendingPathComponent("trainer_state.json")
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline, !FileManager.default.fileExists(atPath: state.path) { usleep(20_000) }
    let ranks = Self.children(of: process.processIdentifier)
    XCTAssertEqual(ranks.count, 2, "mpirun should have started two ranks")
    kill(try XCTUnwrap(ranks.last), SIGKILL)
    let stopBy = Date().addingTimeInterval(60)
    while process.isRunning, Date() < stopBy { usleep(50_000) }
    XCTAssertFalse(process.isRunning, "the other rank kept running after one was killed")
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    XCTAssertNotEqual(process.terminationStatus, 0)
    let partial = try losses(killed).count
    XCTAssertLessThan(partial, steps, "the run finished before it was killed")
    try runMPI(2, teacherArguments(out: killed, steps: steps) + ["--resume"])
    assertSameLosses(try losses(whole), try losses(killed))
  }

  /// Rank 0 refuses a folder it did not write; the rank waiting for its answer is stopped too, with rank 0's error.
  func testAFailingRankStopsTheOthersWithItsError() throws {
    let out = folder.appendingPathComponent("foreign")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    try Data("mine".utf8).write(to: out.appendingPathComponent("notes.txt"))
    let started = Date()
    let (status, text) = try runMPIToEnd(2, teacherArguments(out: out))
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(text.contains("rank 0 of 2: error: refusing to write a teacher to"), text)
    XCTAssertLessThan(Date().timeIntervalSince(started), 60)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["notes.txt"])
  }

  func testOtherCommandsAreRefusedUnderMPI() throws {
    let (status, text) = try runMPIToEnd(2, ["data", "make", "--task", "dates", "--out", folder.appendingPathComponent("d").path])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(text.contains("'tessera data make' runs in one process"), text)
    XCTAssertTrue(text.contains("tessera baselines sweep"), text)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("d").path))
  }

  /// The processes `pid` started (Linux's /proc lists them per thread).
  private static func children(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task -> [Int32] in
      let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
      return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }.sorted()
  }
}
