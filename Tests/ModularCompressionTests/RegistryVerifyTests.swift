import Foundation
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

/// `verify` against the teacher, and what a process waiting for the registry lock learns.
final class RegistryVerifyTests: XCTestCase {
  private var root: URL!
  private var teacherFolder: URL { root.appendingPathComponent("teacher") }
  private var registryFolder: URL { root.appendingPathComponent("registry") }

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("verify-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: root)
  }

  /// A saved tiny teacher (2 encoder, 4 decoder layers) beside a registry naming
  /// it, with a module for each of `ids` copied from its span's first layer.
  @discardableResult
  private func makeRegistry(modules ids: [String] = ["encoder.g2.0", "decoder.g2.1"], teacherPath: String? = "../teacher")
    throws -> (teacher: T5Model, registry: ModuleRegistry)
  {
    let teacher = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 4, seed: 1)
    try ModelExport.save(teacher, to: teacherFolder)
    let registry = try ModuleRegistry.create(
      at: registryFolder, teacherFingerprint: try TeacherFingerprint.of(modelFolder: teacherFolder),
      teacher: TeacherSummary(model: teacher, path: teacherPath))
    for id in ids {
      let span = ModuleSpan(id: id)!
      try registry.add(
        block: (span.stack == .encoder ? teacher.encoder : teacher.decoder).blocks[span.start].copy(), span: span,
        provenance: ModuleProvenance(steps: 1, seed: 0, initialisation: "copy-first"))
    }
    return (teacher, registry)
  }

  /// Rewrites the manifest through `change` (bypassing the registry's own checks).
  private func editManifest(_ change: (inout [String: Any]) -> Void) throws {
    let url = registryFolder.appendingPathComponent(ModuleRegistry.manifestFileName)
    var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    change(&manifest)
    try JSONSerialization.data(withJSONObject: manifest).write(to: url)
  }

  private func assertOneError(
    _ problems: [RegistryProblem], moduleID: String?, containing fragments: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let errors = problems.filter(\.isError)
    XCTAssertEqual(errors.count, 1, "\(problems)", file: file, line: line)
    guard let error = errors.first else { return }
    XCTAssertEqual(error.moduleID, moduleID, file: file, line: line)
    for fragment in fragments {
      XCTAssertTrue(error.message.contains(fragment), "'\(error.message)' lacks '\(fragment)'", file: file, line: line)
    }
  }

  // MARK: verify

  func testASoundRegistryWithItsTeacherHasNoProblems() throws {
    let (_, registry) = try makeRegistry()
    for name in ModuleRegistry.auxiliaryFileNames {
      try Data("x".utf8).write(to: registryFolder.appendingPathComponent(name))
    }
    XCTAssertEqual(registry.verify(), [])
  }

  func testAnotherTeachersWeightsAreAnError() throws {
    let (_, registry) = try makeRegistry()
    try ModelExport.save(TinyTeachers.t5(encoderLayers: 2, decoderLayers: 4, seed: 2), to: teacherFolder)
    assertOneError(registry.verify(), moduleID: nil, containing: ["teacher:", "another teacher", registry.teacherFingerprint])
  }

  func testAModuleThatDoesNotFitTheTeachersLayerIsAnError() throws {
    let (_, registry) = try makeRegistry(modules: [])
    // An encoder layer lacks the decoder's cross-attention; a BART layer has other keys altogether.
    let t5 = TinyTeachers.t5(encoderLayers: 2, decoderLayers: 4, seed: 1)
    let provenance = ModuleProvenance(steps: 1, seed: 0, initialisation: "copy-first")
    try registry.add(block: t5.encoder.blocks[0].copy(), span: ModuleSpan(id: "decoder.g2.0")!, provenance: provenance)
    let bart = TinyTeachers.bart(encoderLayers: 2, decoderLayers: 2, seed: 1)
    try registry.add(block: bart.encoder.blocks[0].copy(), span: ModuleSpan(id: "encoder.g2.0")!, provenance: provenance)
    let errors = registry.verify().filter(\.isError)
    XCTAssertEqual(errors.map(\.moduleID), ["decoder.g2.0", "encoder.g2.0"])
    XCTAssertTrue(
      errors[0].message.contains("does not fit the teacher's decoder layer 0: missing keys 'layer.1.EncDecAttention."),
      errors[0].message)
    XCTAssertTrue(errors[0].message.contains("unexpected keys 'layer.1.DenseReluDense.wi.weight'"), errors[0].message)
    XCTAssertTrue(errors[1].message.contains("and 5 more; unexpected keys 'fc1.bias', 'fc1.weight'"), errors[1].message)
  }

  func testAWrongParameterCountIsAnError() throws {
    let (teacher, registry) = try makeRegistry(modules: ["encoder.g2.0"])
    let actual = teacher.encoder.blocks[0].parameterCount
    try editManifest { manifest in
      var modules = manifest["modules"] as! [[String: Any]]
      modules[0]["parameters"] = actual + 1
      manifest["modules"] = modules
    }
    assertOneError(
      registry.verify(), moduleID: "encoder.g2.0",
      containing: ["holds \(actual) parameters but the manifest's 'parameters' says \(actual + 1)"])
  }

  func testFilesTheManifestDoesNotListAreWarnings() throws {
    let (teacher, registry) = try makeRegistry(modules: ["encoder.g2.0"])
    let stray = try SafeTensorsFile(tensors: teacher.encoder.blocks[1].stateDictionary()).serialized()
    try stray.write(to: registryFolder.appendingPathComponent("encoder.g2.1.safetensors"))
    try Data("notes".utf8).write(to: registryFolder.appendingPathComponent("notes.txt"))
    try Data().write(to: registryFolder.appendingPathComponent(".manifest.json.tmp-1-2"))
    let problems = registry.verify()
    XCTAssertEqual(problems.filter(\.isError), [])
    XCTAssertEqual(problems.map(\.severity), [.warning, .warning, .warning])
    XCTAssertEqual(problems.map { URL(fileURLWithPath: $0.file).lastPathComponent }, [".manifest.json.tmp-1-2", "encoder.g2.1.safetensors", "notes.txt"])
    XCTAssertTrue(problems[0].message.contains("interrupted write"), problems[0].message)
    XCTAssertTrue(problems[1].message.contains("not listed in the manifest"), problems[1].message)
  }

  func testAMissingTeacherIsAnErrorAndAnUnnamedOneAWarning() throws {
    let (_, registry) = try makeRegistry()
    try FileManager.default.removeItem(at: teacherFolder)
    assertOneError(registry.verify(), moduleID: nil, containing: [teacherFolder.path, "does not exist", "'../teacher'"])

    try FileManager.default.removeItem(at: registryFolder)
    let (_, unnamed) = try makeRegistry(teacherPath: nil)
    let problems = unnamed.verify()
    XCTAssertEqual(problems.map(\.severity), [.warning])
    XCTAssertTrue(problems[0].message.contains("teacher not checked"), problems[0].message)
    XCTAssertEqual(unnamed.verify(teacherFolder: teacherFolder), [])
  }

  func testATeacherOfAnotherShapeThanTheManifestSaysIsAnError() throws {
    let (_, registry) = try makeRegistry()
    try editManifest { manifest in
      var teacher = manifest["teacher"] as! [String: Any]
      teacher["d_model"] = 32
      manifest["teacher"] = teacher
    }
    assertOneError(registry.verify(), moduleID: nil, containing: ["d_model is 32 but the teacher's config.json has 16"])
  }

  // MARK: Lock

  func testAWaitForTheLockNamesTheProcessHoldingIt() throws {
    try makeRegistry(modules: [])
    let held = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
    let folder = registryFolder
    DispatchQueue.global().async {
      try? RegistryLock.withLock(folder, .exclusive) {
        held.signal()
        _ = release.wait(timeout: .now() + 60)
      }
      done.signal()
    }
    held.wait()
    var seen: [LockHolder?] = []
    try RegistryLock.withLock(folder, .shared, onWait: { _, holder in
      seen.append(holder)
      release.signal()
    }) {}
    done.wait()
    XCTAssertEqual(seen.count, 1, "told once")
    let holder = try XCTUnwrap(seen.first ?? nil)
    XCTAssertEqual(holder.pid, getpid())
    XCTAssertEqual(holder.command, LockHolder.current().command)
    XCTAssertTrue(CommandLine.arguments.joined(separator: " ").hasPrefix(holder.command.replacingOccurrences(of: " …", with: "")))
    XCTAssertNotNil(ISO8601DateFormatter().date(from: holder.since), holder.since)
    XCTAssertTrue(
      RegistryLock.waitMessage(folder, holder).contains("held by process \(getpid()) ("), RegistryLock.waitMessage(folder, holder))
    // Released: the lock file no longer names anyone.
    XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent(RegistryLock.fileName)), Data())
  }

  func testARecordLeftByAKilledHolderIsNotBelieved() throws {
    let ended = Process()
    ended.executableURL = URL(fileURLWithPath: "/bin/true")
    try ended.run()
    ended.waitUntilExit()
    let stale = LockHolder(pid: ended.processIdentifier, command: "tessera modules train", since: "2026-01-01T00:00:00Z")
    XCTAssertFalse(stale.isRunning)
    XCTAssertTrue(LockHolder.current().isRunning)
    XCTAssertTrue(RegistryLock.waitMessage(root, nil).contains("held by another process"))
  }

  /// A long command line (a test runner's list of test names, many data
  /// files) once made the record larger than the reader's buffer, so the
  /// waiting process could not say whom it waited for.
  func testARecordOfAVeryLongCommandLineStillReads() throws {
    let url = root.appendingPathComponent("lock-record")
    FileManager.default.createFile(atPath: url.path, contents: nil)
    let descriptor = open(url.path, O_RDWR)
    defer { close(descriptor) }
    let long = String(repeating: "ü\u{1}", count: 3 * LockHolder.commandLimit)
    let record = LockHolder(
      pid: getpid(), command: String(long.prefix(LockHolder.commandLimit)), since: "2026-01-01T00:00:00Z")
    record.write(descriptor)
    XCTAssertEqual(LockHolder.read(descriptor), record)
    XCTAssertLessThanOrEqual(LockHolder.current().command.count, LockHolder.commandLimit + 2)
  }
}
