import Foundation
import XCTest

/// Runs the built `tessera` executable (swift test builds it beside the tests).
enum CLI {
  static var binary: URL {
    var folder = Bundle.main.bundleURL
    for _ in 0..<3 {
      let candidate = folder.appendingPathComponent("tessera")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
      folder = folder.deletingLastPathComponent()
    }
    return Bundle.main.bundleURL.appendingPathComponent("tessera")
  }

  struct Result {
    let status: Int32
    let output: String
    let error: String
  }

  /// Runs to completion and captures both streams; in `folder` when given
  /// (starting fails if it does not exist); `environment` is added to the test's own.
  @discardableResult
  static func run(
    _ arguments: [String], input: String? = nil, in folder: URL? = nil, environment: [String: String] = [:]
  ) throws -> Result {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = folder
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
    let out = Pipe(), err = Pipe(), stdin = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self), error: String(decoding: errData, as: UTF8.self))
  }

  /// Starts the command, kills it with SIGKILL as soon as `ready` holds (or
  /// after two minutes) and checks that it was killed, not finished.
  static func runAndKill(
    _ arguments: [String], file: StaticString = #filePath, line: UInt = #line, when ready: () -> Bool
  ) throws {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline, !ready() { usleep(20_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(
      process.terminationReason, .uncaughtSignal, "the run should have been killed mid-way", file: file, line: line)
  }

  /// A tiny 4+4-layer teacher on the dates task, trained for two steps into `folder/teacher`.
  static func trainTinyTeacher(in folder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let teacher = folder.appendingPathComponent("teacher")
    let trained = try run([
      "teacher", "train", "--task", "dates", "--out", teacher.path, "--steps", "2", "--layers", "4", "--decoder-layers", "4",
      "--d-model", "16", "--heads", "2", "--d-ff", "32", "--train-examples", "64", "--valid-examples", "8",
      "--batch-tokens", "256",
    ])
    XCTAssertEqual(trained.status, 0, trained.error, file: file, line: line)
    return teacher
  }

  static func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cli-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}
