import Foundation
import XCTest

@testable import ModularCompression

/// Commands never replace what they did not write, and say what is wrong with a registry or who holds its lock.
final class OutputSafetyCLITests: XCTestCase {
  private var project: URL!
  private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL
  /// A tiny Hugging Face T5 folder to import.
  private static let source = repository.appendingPathComponent("Tests/Seq2SeqModelsTests/Fixtures/t5_v1_0")

  /// Holds `project`, so that even `..` of the project stays inside this test's own folder.
  private var sandbox: URL!

  override func setUpWithError() throws {
    sandbox = CLI.temporaryFolder()
    project = sandbox.appendingPathComponent("project")
    try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: sandbox)
  }

  /// A project folder as a user has it: a registry and a teacher Tessera wrote, and notes of their own.
  private func makeProject() throws {
    let files = [
      "registry/manifest.json", "registry/encoder.g2.0.safetensors", "teacher/config.json", "teacher/model.safetensors",
      "teacher/trainer_state.json", "notes.txt",
    ]
    for file in files {
      let url = project.appendingPathComponent(file)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data("contents of \(file)".utf8).write(to: url)
    }
  }

  /// Every file under `folder` with its bytes.
  private func snapshot(_ folder: URL) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: folder.path)!
    while let path = enumerator.nextObject() as? String {
      let url = folder.appendingPathComponent(path)
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue {
        files[path] = try Data(contentsOf: url)
      }
    }
    return files
  }

  /// Runs the CLI with `folder` (the sandbox or a folder in it) as its current folder. A
  /// command that replaced its folder (an old bug) must not make the next run
  /// start anywhere else: a folder that is gone fails the run.
  private func run(in folder: URL, _ arguments: [String]) throws -> CLI.Result {
    let path = folder.standardizedFileURL.path
    precondition(path == sandbox.path || path.hasPrefix(sandbox.path + "/"), "runs stay inside the sandbox")
    return try CLI.run(arguments, in: folder)
  }

  private func assertRefused(_ result: CLI.Result, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, 1, result.output + result.error, file: file, line: line)
    for fragment in fragments {
      XCTAssertTrue(result.error.contains(fragment), "'\(result.error)' lacks '\(fragment)'", file: file, line: line)
    }
  }

  // MARK: --out

  func testImportIntoTheProjectFolderIsRefusedAndDeletesNothing() throws {
    try makeProject()
    let before = try snapshot(project)
    for force in [[], ["--force"]] {
      let result = try run(in: project, ["teacher", "import", Self.source.path, "--out", "."] + force)
      assertRefused(result, ["refusing to write a model folder", "it is the current folder"])
      let parent = try run(in: project.appendingPathComponent("teacher"), ["teacher", "import", Self.source.path, "--out", ".."] + force)
      assertRefused(parent, ["holds the current folder"])
      assertRefused(try run(in: project, ["teacher", "import", Self.source.path, "--out", project.path] + force), ["current folder"])
      XCTAssertEqual(try snapshot(project), before)
    }
  }

  func testImportReplacesOnlyTesserasOwnOutputs() throws {
    try makeProject()
    let registry = project.appendingPathComponent("registry")
    let notes = project.appendingPathComponent("notes.txt")
    let before = try snapshot(project)
    assertRefused(
      try run(in: sandbox, ["teacher", "import", Self.source.path, "--out", registry.path]),
      [registry.path, "a module registry (manifest.json)", "pass --force"])
    assertRefused(try run(in: sandbox, ["teacher", "import", Self.source.path, "--out", notes.path, "--force"]), [notes.path, "is a file"])
    let elsewhere = sandbox.appendingPathComponent("elsewhere")
    try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
    assertRefused(
      try run(in: elsewhere, ["teacher", "import", Self.source.path, "--out", project.path, "--force"]),
      [project.path, "'registry' (a module registry", "'teacher' (a trained teacher"])
    XCTAssertEqual(try snapshot(project), before)

    let model = project.appendingPathComponent("imported")
    for _ in 0..<2 {  // a model folder it wrote may be written again
      let result = try run(in: sandbox, ["teacher", "import", Self.source.path, "--out", model.path])
      XCTAssertEqual(result.status, 0, result.error)
    }
    let forced = try run(in: sandbox, ["teacher", "import", Self.source.path, "--out", registry.path, "--force"])
    XCTAssertEqual(forced.status, 0, forced.error)
    XCTAssertTrue(FileManager.default.fileExists(atPath: registry.appendingPathComponent("model.safetensors").path))
  }

  func testDataMakeRefusesFoldersItDidNotWrite() throws {
    try makeProject()
    let before = try snapshot(project)
    assertRefused(try run(in: project, ["data", "make", "--task", "arithmetic", "--out", ".", "--force"]), ["current folder"])
    assertRefused(
      try run(in: sandbox, ["data", "make", "--task", "arithmetic", "--out", project.appendingPathComponent("teacher").path]),
      ["a trained teacher", "--force"])
    XCTAssertEqual(try snapshot(project), before)
    let data = project.appendingPathComponent("data")
    for _ in 0..<2 {
      let result = try run(in: sandbox, ["data", "make", "--task", "arithmetic", "--out", data.path, "--train", "5", "--valid", "2", "--test", "2"])
      XCTAssertEqual(result.status, 0, result.error)
    }
    let blocked = project.appendingPathComponent("notes.txt/data")
    assertRefused(try run(in: sandbox, ["data", "make", "--task", "arithmetic", "--out", blocked.path]), ["'\(project.path)/notes.txt' is a file"])
  }

  // MARK: registry verify

  /// A copy of the shipped demo teacher and registry.
  private func copyDemo() throws -> (teacher: URL, registry: URL) {
    let demo = Self.repository.appendingPathComponent("Checkpoints/demo")
    for name in ["teacher", "registry"] {
      try FileManager.default.copyItem(at: demo.appendingPathComponent(name), to: project.appendingPathComponent(name))
    }
    return (project.appendingPathComponent("teacher"), project.appendingPathComponent("registry"))
  }

  func testVerifyChecksTheTeacherAndWarnsOfStrayFiles() throws {
    let (teacher, registry) = try copyDemo()
    try Data("mine".utf8).write(to: registry.appendingPathComponent("notes.txt"))
    let warned = try run(in: sandbox, ["registry", "verify", registry.path])
    XCTAssertEqual(warned.status, 0, warned.error)
    XCTAssertTrue(warned.output.contains("warning registry: 'notes.txt': not listed in the manifest"), warned.output)
    XCTAssertTrue(warned.output.contains("12 modules verified"), warned.output)

    let weights = teacher.appendingPathComponent("model.safetensors")
    var bytes = try Data(contentsOf: weights)
    bytes[bytes.count - 1] ^= 1
    try bytes.write(to: weights)
    let failed = try run(in: sandbox, ["registry", "verify", registry.path])
    XCTAssertEqual(failed.status, 1)
    XCTAssertTrue(failed.output.contains("FAILED  registry: teacher:"), failed.output)
    XCTAssertTrue(failed.output.contains("another teacher"), failed.output)
    XCTAssertTrue(failed.error.contains("1 error in registry"), failed.error)
  }

  // MARK: lock

  func testAWaitForTheRegistryLockSaysWhoHoldsIt() throws {
    let (_, registry) = try copyDemo()
    let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      try? RegistryLock.withLock(registry, .exclusive) {
        held.signal()
        _ = release.wait(timeout: .now() + 60)  // released once the command says it waits, or after a minute
      }
      done.signal()
    }
    held.wait()
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = ["registry", "list", registry.path]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let notice = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
    release.signal()
    process.waitUntilExit()
    done.wait()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertTrue(notice.contains("waiting for the lock of registry '\(registry.path)'"), notice)
    XCTAssertTrue(notice.contains("held by process \(getpid()) ("), notice)
    XCTAssertTrue(notice.contains("which has held it since 20"), notice)
  }
}
