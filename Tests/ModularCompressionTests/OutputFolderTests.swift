import Foundation
import XCTest

@testable import ModularCompression

/// Which outputs a command may replace: every kind of path, with and without --force.
final class OutputFolderTests: XCTestCase {
  private var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("outputs-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: root)
  }

  // MARK: Fixtures

  /// A folder at `name` holding `files` (paths relative to it; a trailing `/` makes a folder).
  @discardableResult
  private func make(_ name: String, _ files: [String]) throws -> URL {
    let folder = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for file in files {
      let url = folder.appendingPathComponent(file)
      if file.hasSuffix("/") {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
      } else {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: url)
      }
    }
    return folder
  }

  private static let model = ["config.json", "model.safetensors", "tokenizer.json"]
  private static let teacher = model + ["trainer_state.json", "optimizer.safetensors"]
  private static let registry = ["manifest.json", ".lock", "encoder.g2.0.safetensors", "training-checkpoint.safetensors"]
  private static let report = ["report.md", "results.json", "results.csv", "plot.svg"]

  /// One folder of each kind Tessera writes.
  private func makeOneOfEach() throws -> [OutputKind: URL] {
    [
      .teacher: try make("teacher", Self.teacher),
      .model: try make("model", Self.model),
      .assembly: try make("assembly", Self.model + ["assembly.json"]),
      .registry: try make("registry", Self.registry),
      .report: try make("report", Self.report + Self.model.map { "models/speed-first-2x/" + $0 } + ["models/speed-first-2x/assembly.json"]),
      .dataset: try make("dataset", ["task.json", "train.jsonl", "valid.jsonl", "test.jsonl"]),
      .demo: try make(
        "demo", ["demo.json"] + Self.teacher.map { "teacher/" + $0 } + Self.registry.map { "registry/" + $0 }
          + Self.report.map { "report/" + $0 }),
    ]
  }

  private func assertRefused(
    _ url: URL, as kind: OutputKind, force: Bool, reading inputs: [URL] = [], containing fragments: [String],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try OutputFolder.claim(url, as: kind, force: force, reading: inputs), file: file, line: line) {
      let message = "\($0)"
      for fragment in fragments + [url.path] {
        XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
      }
    }
  }

  // MARK: Recognising

  func testEachKindIsRecognisedByItsContent() throws {
    for (kind, url) in try makeOneOfEach() {
      XCTAssertEqual(OutputFolder.inspect(url), .tessera(kind), url.lastPathComponent)
    }
    XCTAssertEqual(OutputFolder.inspect(root.appendingPathComponent("absent")), .nothing)
    XCTAssertEqual(OutputFolder.inspect(try make("empty", [])), .emptyFolder)
    // Leftovers of interrupted writes do not count as the user's files.
    XCTAssertEqual(OutputFolder.inspect(try make("leftovers", [".model.safetensors.tmp-1-2"])), .emptyFolder)
    XCTAssertEqual(OutputFolder.inspect(try make("model-left", Self.model + [".config.json.tmp-9-9"])), .tessera(.model))
  }

  func testTheShippedDemoCheckpointsAreTesserasOwn() throws {
    let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Checkpoints/demo")
      .standardizedFileURL
    XCTAssertEqual(OutputFolder.inspect(demo.appendingPathComponent("teacher")), .tessera(.teacher))
    XCTAssertEqual(OutputFolder.inspect(demo.appendingPathComponent("registry")), .tessera(.registry))
    XCTAssertEqual(OutputFolder.inspect(demo.appendingPathComponent("baselines")), .tessera(.baselineSweep))
    XCTAssertEqual(OutputFolder.inspect(demo), .holdsOutputs(["teacher": .teacher, "registry": .registry, "baselines": .baselineSweep]))
  }

  func testForeignContentIsNotMistakenForAnOutput() throws {
    // A Hugging Face download has files Tessera never writes.
    XCTAssertEqual(
      OutputFolder.inspect(try make("hf", Self.model + ["pytorch_model.bin"])), .otherFiles(["pytorch_model.bin"]))
    XCTAssertEqual(OutputFolder.inspect(try make("notes", ["notes.txt"])), .otherFiles(["notes.txt"]))
    XCTAssertEqual(OutputFolder.inspect(try make("registry-plus", Self.registry + ["README.md"])), .otherFiles(["README.md"]))
    XCTAssertEqual(OutputFolder.inspect(try make("git", Self.model + [".git/"])), .otherFiles([".git"]))
    let file = root.appendingPathComponent("file.txt")
    try Data("mine".utf8).write(to: file)
    XCTAssertEqual(OutputFolder.inspect(file), .file)
  }

  // MARK: Claiming

  func testNothingAnEmptyFolderOrTheSameKindMayBeWritten() throws {
    for (kind, url) in try makeOneOfEach() {
      XCTAssertEqual(try OutputFolder.claim(url, as: kind, force: false), .tessera(kind))
    }
    XCTAssertEqual(try OutputFolder.claim(root.appendingPathComponent("new/nested"), as: .model, force: false), .nothing)
    XCTAssertEqual(try OutputFolder.claim(try make("empty", []), as: .registry, force: false), .emptyFolder)
  }

  func testAnotherKindOfOutputNeedsForce() throws {
    let outputs = try makeOneOfEach()
    for (kind, url) in outputs where kind != .demo {
      for writer in OutputKind.allCases where writer != kind && writer != .demo {
        assertRefused(url, as: writer, force: false, containing: [kind.displayName, "--force"])
        XCTAssertEqual(try OutputFolder.claim(url, as: writer, force: true), .tessera(kind))
      }
    }
  }

  func testUserFilesAreRefusedEvenWithForce() throws {
    let file = root.appendingPathComponent("file.txt")
    try Data("mine".utf8).write(to: file)
    let notes = try make("notes", ["notes.txt", "data.csv"])
    let download = try make("hf", Self.model + ["pytorch_model.bin"])
    for force in [false, true] {
      assertRefused(file, as: .model, force: force, containing: ["is a file"])
      assertRefused(notes, as: .report, force: force, containing: ["'data.csv'", "'notes.txt'", "did not write"])
      assertRefused(download, as: .model, force: force, containing: ["'pytorch_model.bin'"])
    }
    XCTAssertEqual(try Data(contentsOf: file), Data("mine".utf8))
  }

  func testAFolderHoldingARegistryOrTeacherIsRefusedEvenWithForce() throws {
    let project = try make("project", ["notes.txt"] + Self.teacher.map { "teacher/" + $0 } + Self.registry.map { "registry/" + $0 })
    let demo = try XCTUnwrap(try makeOneOfEach()[.demo])
    for force in [false, true] {
      assertRefused(project, as: .assembly, force: force, containing: ["'registry' (a module registry", "'teacher' (a trained teacher"])
      assertRefused(demo, as: .report, force: force, containing: ["demo output"])
    }
    XCTAssertEqual(try OutputFolder.claim(demo, as: .demo, force: false), .tessera(.demo))
  }

  func testTheCurrentFolderAndItsAncestorsAreRefusedEvenWithForce() throws {
    let project = try make("project", Self.model)
    let inside = try make("project/work", [])
    let previous = FileManager.default.currentDirectoryPath
    XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(inside.path))
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }
    for force in [false, true] {
      assertRefused(URL(fileURLWithPath: "."), as: .model, force: force, containing: ["current folder"])
      assertRefused(URL(fileURLWithPath: ".."), as: .model, force: force, containing: ["holds the current folder"])
      assertRefused(project, as: .model, force: force, containing: ["holds the current folder"])
      assertRefused(URL(fileURLWithPath: "/"), as: .model, force: force, containing: ["holds the current folder"])
    }
    // A link to the current folder is the current folder.
    let link = root.appendingPathComponent("link")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: inside)
    assertRefused(link, as: .model, force: true, containing: ["current folder"])
  }

  func testInputsOfTheCommandAreRefusedEvenWithForce() throws {
    let outputs = try makeOneOfEach()
    let teacher = try XCTUnwrap(outputs[.teacher]), registry = try XCTUnwrap(outputs[.registry])
    assertRefused(teacher, as: .teacher, force: true, reading: [teacher, registry], containing: ["an input of this command"])
    assertRefused(root, as: .report, force: true, reading: [registry], containing: ["holds \(registry.path)"])
  }

  // MARK: Writability

  func testAnUnwritablePlaceIsFoundBeforeTheRun() throws {
    let file = root.appendingPathComponent("file.txt")
    try Data("mine".utf8).write(to: file)
    let below = file.appendingPathComponent("out/model")
    XCTAssertThrowsError(try OutputFolder.claim(below, as: .model, force: false)) {
      XCTAssertEqual("\($0)", "cannot write '\(below.path)': '\(file.path)' is a file, so no folder can be made in it")
    }
    try OutputFolder.checkWritable(root.appendingPathComponent("a/b/c"))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), ["file.txt"], "the check leaves nothing behind")
    #if os(Linux)
      // Permission bits would let root through; /proc takes no new files from anyone.
      XCTAssertThrowsError(try OutputFolder.claim(URL(fileURLWithPath: "/proc/tessera-out"), as: .report, force: false)) {
        XCTAssertTrue("\($0)".hasPrefix("cannot write '/proc/tessera-out': '/proc' is not writable"), "\($0)")
      }
    #endif
    guard getuid() != 0 else { return }  // root may write anywhere
    let locked = try make("locked", [])
    try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
    defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
    XCTAssertThrowsError(try OutputFolder.checkWritable(locked.appendingPathComponent("out"))) {
      XCTAssertTrue("\($0)".contains("'\(locked.path)' is not writable"), "\($0)")
    }
  }
}
