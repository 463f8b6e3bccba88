import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import XCTest

@testable import ModularCompression

final class RegistryTests: XCTestCase {
  private var folder: URL!

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: folder)
  }

  // MARK: Fixtures

  /// A tiny T5 teacher (2 encoder, 4 decoder layers); different seeds give different weights.
  private static func teacher(seed: UInt64 = 1) -> T5Model {
    TinyTeachers.t5(encoderLayers: 2, decoderLayers: 4, seed: seed)
  }

  private static let fingerprint = String(repeating: "ab", count: 32)
  private static let otherFingerprint = String(repeating: "cd", count: 32)

  private static func provenance(steps: Int = 100) -> ModuleProvenance {
    ModuleProvenance(
      created: Date(timeIntervalSince1970: 1_700_000_000), steps: steps, seed: 7, command: "tessera modules train",
      initialisation: "copy-first")
  }

  private func makeRegistry(_ model: any Seq2SeqModel, at url: URL? = nil) throws -> ModuleRegistry {
    try ModuleRegistry.create(
      at: url ?? folder, teacherFingerprint: Self.fingerprint, teacher: TeacherSummary(model: model, path: "teacher"))
  }

  /// A registry for a fresh teacher whose module for each of `ids` is a copy
  /// of the span's first teacher layer.
  private func makeRegistry(modules ids: [String]) throws -> (teacher: T5Model, registry: ModuleRegistry, entries: [ModuleEntry]) {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    let entries = try ids.map { id in
      let span = ModuleSpan(id: id)!
      let stack = span.stack == .encoder ? model.encoder : model.decoder
      return try registry.add(block: stack.blocks[span.start].copy(), span: span, provenance: Self.provenance())
    }
    return (model, registry, entries)
  }

  /// What `verify` finds wrong with the modules (these registries' teacher folders do not exist).
  private static func moduleProblems(_ registry: ModuleRegistry) -> [RegistryProblem] {
    registry.verify().filter { $0.moduleID != nil }
  }

  private func assertThrows(
    _ expression: @autoclosure () throws -> some Any, containing fragments: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
      let message = "\(error)"
      for fragment in fragments {
        XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
      }
    }
  }

  // MARK: Manifest

  func testManifestRoundTrip() throws {
    let span = ModuleSpan(stack: .decoder, granularity: 2, index: 1)
    let manifest = RegistryManifest(
      teacherFingerprint: Self.fingerprint,
      teacher: TeacherSummary(modelType: "t5", encoderLayers: 2, decoderLayers: 4, dModel: 16, path: "t"),
      modules: [
        ModuleEntry(
          span: span, parameters: 1234, file: "decoder.g2.1.safetensors", sha256: Self.otherFingerprint,
          provenance: Self.provenance(), validation: ModuleValidation(loss: 0.5, metric: 0.25, metricName: "exact_match")),
        ModuleEntry(
          span: ModuleSpan(stack: .encoder, granularity: 2, index: 0), parameters: 99, file: "encoder.g2.0.safetensors",
          sha256: Self.fingerprint, provenance: Self.provenance(steps: 0)),
      ], teacherValidation: ModuleValidation(loss: 0.125, metric: 1, metricName: "EM"))
    let data = try manifest.encoded()
    let decoded = try RegistryManifest.decode(data, file: "manifest.json")
    XCTAssertEqual(decoded, manifest)
    XCTAssertEqual(decoded.modules[0].moduleSpan, span)
    XCTAssertEqual(decoded.modules[0].provenance.created, "2023-11-14T22:13:20Z")
    let text = String(decoding: data, as: UTF8.self)
    for key in ["\"format_version\" : 1", "\"teacher_fingerprint\"", "\"teacher_validation\"", "\"metric_name\"", "\"span\" : [", "\"d_model\""] {
      XCTAssertTrue(text.contains(key), "manifest lacks \(key)")
    }
    XCTAssertFalse(text.contains("null"), "absent optionals are left out, not null")
  }

  func testInvalidManifestFieldsAreNamed() throws {
    let registry = try makeRegistry(modules: ["decoder.g2.0"]).registry
    let good = try JSONSerialization.jsonObject(with: Data(contentsOf: registry.manifestURL)) as! [String: Any]

    func check(_ edit: (inout [String: Any], inout [String: Any]) -> Void, _ fragments: [String]) throws {
      var root = good
      var module = (good["modules"] as! [[String: Any]])[0]
      edit(&root, &module)
      root["modules"] = [module]
      try JSONSerialization.data(withJSONObject: root).write(to: registry.manifestURL)
      assertThrows(try ModuleRegistry.open(at: folder), containing: [registry.manifestURL.path] + fragments)
    }
    try check({ root, _ in root["colour"] = "blue" }, ["field 'colour'", "unknown field"])
    try check({ root, _ in root["format_version"] = 2 }, ["format_version 2", "not supported"])
    try check({ root, _ in root["teacher_fingerprint"] = "xyz" }, ["field 'teacher_fingerprint'"])
    try check({ _, module in module["sha256"] = "00" }, ["field 'modules[0].sha256'"])
    try check({ _, module in module["span"] = [0, 3] }, ["field 'modules[0].span'", "does not match id"])
    try check({ _, module in module["id"] = "decoder.g2.x" }, ["field 'modules[0].id'"])
    try check({ _, module in module["file"] = "../escape.safetensors" }, ["field 'modules[0].file'"])
    try check({ _, module in module["stack"] = "middle" }, ["field 'modules[0].stack'"])
    try check({ _, module in module["validation"] = ["loss": "low"] }, ["field 'modules[0].validation.loss'", "expected a number"])
    try check(
      { _, module in
        var provenance = module["provenance"] as! [String: Any]
        provenance["steps"] = nil
        module["provenance"] = provenance
      }, ["field 'modules[0].provenance.steps'", "missing"])
    try check(
      { _, module in
        module["id"] = "decoder.g4.1"
        module["granularity"] = 4
        module["span"] = [4, 8]
      }, ["field 'modules[0]'", "outside the teacher's decoder of 4 layers"])
    try Data("{\"format_version\": 1,".utf8).write(to: registry.manifestURL)
    assertThrows(try ModuleRegistry.open(at: folder), containing: [registry.manifestURL.path, "unexpected end of the JSON text"])
    try Data("[1]".utf8).write(to: registry.manifestURL)
    assertThrows(try ModuleRegistry.open(at: folder), containing: [registry.manifestURL.path, "not a JSON object"])
    try Data(#"{"format_version": 1, "format_version": 1}"#.utf8).write(to: registry.manifestURL)
    assertThrows(try ModuleRegistry.open(at: folder), containing: [registry.manifestURL.path, "duplicate key 'format_version'"])
  }

  // MARK: Adding and loading

  func testAddAndLoadRoundTrip() throws {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    let module = model.decoder.blocks[1].copy()
    let span = ModuleSpan(stack: .decoder, granularity: 2, index: 1)
    let entry = try registry.add(
      block: module, span: span, provenance: Self.provenance(), validation: ModuleValidation(loss: 1.5))
    XCTAssertEqual(entry.id, "decoder.g2.1")
    XCTAssertEqual(entry.span, [2, 4])
    XCTAssertEqual(entry.parameters, module.parameterCount)
    let fileURL = folder.appendingPathComponent("decoder.g2.1.safetensors")
    XCTAssertEqual(try SHA256.hexDigest(ofFile: fileURL), entry.sha256)
    let stored = try SafeTensorsFile.read(from: fileURL)
    XCTAssertEqual(Set(stored.tensors.keys), Set(module.namedParameters().map(\.key)))
    XCTAssertEqual(stored.metadata["module_id"], "decoder.g2.1")
    XCTAssertEqual(stored.metadata["teacher_fingerprint"], Self.fingerprint)

    let reopened = try ModuleRegistry.open(at: folder)
    XCTAssertEqual(reopened.entries, [entry])
    XCTAssertEqual(reopened.teacherFingerprint, Self.fingerprint)
    let loaded = try reopened.loadBlock(span, for: Self.teacher(seed: 99), teacherFingerprint: Self.fingerprint)
    let expected = module.stateDictionary()
    let actual = loaded.stateDictionary()
    XCTAssertEqual(Set(actual.keys), Set(expected.keys))
    for (key, tensor) in expected {
      XCTAssertEqual(actual[key]?.shape, tensor.shape, key)
      XCTAssertEqual(actual[key]?.scalars, tensor.scalars, key)
    }
    XCTAssertEqual(Self.moduleProblems(reopened), [])
  }

  func testAddingTheSameIDReplacesTheModule() throws {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    let span = ModuleSpan(stack: .encoder, granularity: 2, index: 0)
    try registry.add(block: model.encoder.blocks[0].copy(), span: span, provenance: Self.provenance(steps: 1))
    let second = try registry.add(block: model.encoder.blocks[1].copy(), span: span, provenance: Self.provenance(steps: 2))
    let reopened = try ModuleRegistry.open(at: folder)
    XCTAssertEqual(reopened.entries, [second])
    let loaded = try reopened.loadBlock(span, for: model, teacherFingerprint: Self.fingerprint)
    XCTAssertEqual(
      loaded.stateDictionary().mapValues(\.scalars), model.encoder.blocks[1].stateDictionary().mapValues(\.scalars))
  }

  func testSpanOutsideTheTeacherIsRefused() throws {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    assertThrows(
      try registry.add(
        block: model.encoder.blocks[0].copy(), span: ModuleSpan(stack: .encoder, granularity: 2, index: 1),
        provenance: Self.provenance()),
      containing: ["encoder.g2.1", "2 layers"])
  }

  func testModuleOfTheWrongShapeIsRefused() throws {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    // An encoder layer has no cross-attention, so it cannot be a decoder block.
    let span = ModuleSpan(stack: .decoder, granularity: 2, index: 0)
    try registry.add(block: model.encoder.blocks[0].copy(), span: span, provenance: Self.provenance())
    assertThrows(
      try registry.loadBlock(span, for: model, teacherFingerprint: Self.fingerprint),
      containing: ["decoder.g2.0", "does not fit the teacher"])
  }

  // MARK: Refusals

  func testCorruptModuleFileIsRefused() throws {
    let (model, registry, _) = try makeRegistry(modules: ["decoder.g4.0"])
    let span = ModuleSpan(stack: .decoder, granularity: 4, index: 0)
    let fileURL = folder.appendingPathComponent("decoder.g4.0.safetensors")
    var bytes = try Data(contentsOf: fileURL)
    bytes[bytes.count - 3] ^= 0x10  // one bit of one weight
    try bytes.write(to: fileURL)
    assertThrows(
      try registry.loadBlock(span, for: model, teacherFingerprint: Self.fingerprint),
      containing: ["checksum mismatch", fileURL.path, "decoder.g4.0"])
    let problems = Self.moduleProblems(registry)
    XCTAssertEqual(problems.map(\.moduleID), ["decoder.g4.0"])
    XCTAssertTrue(problems[0].message.contains("checksum mismatch"), problems[0].message)
  }

  func testForeignTeacherIsRefused() throws {
    let (model, registry, _) = try makeRegistry(modules: ["encoder.g2.0"])
    let span = ModuleSpan(stack: .encoder, granularity: 2, index: 0)
    assertThrows(
      try registry.loadBlock(span, for: model, teacherFingerprint: Self.otherFingerprint),
      containing: ["another teacher", Self.fingerprint, Self.otherFingerprint, folder.path])
    assertThrows(
      try ModuleRegistry.openOrCreate(
        at: folder, teacherFingerprint: Self.otherFingerprint, teacher: TeacherSummary(model: model)),
      containing: ["another teacher"])
    XCTAssertEqual(
      try ModuleRegistry.openOrCreate(at: folder, teacherFingerprint: Self.fingerprint, teacher: TeacherSummary(model: model))
        .entries.map(\.id), ["encoder.g2.0"])
  }

  func testModuleFileFromAnotherRegistryIsRefused() throws {
    let model = Self.teacher()
    let registry = try makeRegistry(model)
    let otherFolder = folder.appendingPathComponent("other")
    let other = try ModuleRegistry.create(
      at: otherFolder, teacherFingerprint: Self.otherFingerprint, teacher: TeacherSummary(model: model))
    let span = ModuleSpan(stack: .encoder, granularity: 2, index: 0)
    try registry.add(block: model.encoder.blocks[0].copy(), span: span, provenance: Self.provenance())
    let foreign = try other.add(block: model.encoder.blocks[0].copy(), span: span, provenance: Self.provenance())
    // Copy the other teacher's module file in and make the checksum agree: the metadata still tells.
    let fileURL = folder.appendingPathComponent(foreign.file)
    try FileManager.default.removeItem(at: fileURL)
    try FileManager.default.copyItem(at: otherFolder.appendingPathComponent(foreign.file), to: fileURL)
    var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: registry.manifestURL)) as! [String: Any]
    var modules = manifest["modules"] as! [[String: Any]]
    modules[0]["sha256"] = foreign.sha256
    manifest["modules"] = modules
    try JSONSerialization.data(withJSONObject: manifest).write(to: registry.manifestURL)
    assertThrows(
      try registry.loadBlock(span, for: model, teacherFingerprint: Self.fingerprint),
      containing: ["encoder.g2.0", "another teacher", Self.otherFingerprint])
    XCTAssertEqual(Self.moduleProblems(registry).map(\.moduleID), ["encoder.g2.0"])
  }

  func testMissingModuleListsAvailableIDs() throws {
    let (model, registry, _) = try makeRegistry(modules: ["encoder.g2.0", "decoder.g2.1"])
    assertThrows(
      try registry.loadBlock(ModuleSpan(stack: .decoder, granularity: 3, index: 0), for: model, teacherFingerprint: Self.fingerprint),
      containing: ["no module 'decoder.g3.0'", "available: decoder.g2.1, encoder.g2.0", folder.path])
    assertThrows(try registry.remove(id: "decoder.g4.0"), containing: ["decoder.g4.0", "decoder.g2.1, encoder.g2.0"])
  }

  func testMissingModuleFileIsReported() throws {
    let (model, registry, entries) = try makeRegistry(modules: ["encoder.g2.0"])
    let (span, entry) = (entries[0].moduleSpan, entries[0])
    try FileManager.default.removeItem(at: folder.appendingPathComponent(entry.file))
    assertThrows(
      try registry.loadBlock(span, for: model, teacherFingerprint: Self.fingerprint),
      containing: ["encoder.g2.0", "is missing", entry.file])
    XCTAssertEqual(Self.moduleProblems(registry).map(\.moduleID), ["encoder.g2.0"])
  }

  func testCreateOpenAndFolderErrors() throws {
    let model = Self.teacher()
    _ = try makeRegistry(model)
    assertThrows(try makeRegistry(model), containing: ["already holds", folder.path])
    let empty = folder.appendingPathComponent("empty")
    assertThrows(try ModuleRegistry.open(at: empty), containing: ["not a module registry", empty.path])
    assertThrows(
      try ModuleRegistry.create(at: empty, teacherFingerprint: "nope", teacher: TeacherSummary(model: model)),
      containing: ["teacher fingerprint", "'nope'"])
  }

  // MARK: Changing entries

  func testUpdateValidationAndRemove() throws {
    let (_, registry, entries) = try makeRegistry(modules: ["decoder.g2.0"])
    let (span, entry) = (entries[0].moduleSpan, entries[0])
    XCTAssertNil(entry.validation)
    let validation = ModuleValidation(loss: 0.75, metric: 0.5, metricName: "exact_match")
    try registry.updateValidation(id: span.id, validation)
    XCTAssertEqual(try ModuleRegistry.open(at: folder).entry(span.id)?.validation, validation)
    assertThrows(try registry.updateValidation(id: span.id, ModuleValidation(loss: .nan)), containing: ["validation loss", "finite"])
    assertThrows(try registry.updateValidation(id: "encoder.g2.0", validation), containing: ["no module 'encoder.g2.0'"])

    try registry.remove(id: span.id)
    XCTAssertEqual(try ModuleRegistry.open(at: folder).entries, [])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent(entry.file).path))
  }

  /// Instances see each other's changes: each change re-reads the manifest first.
  func testSeparateInstancesKeepEachOthersModules() throws {
    let model = Self.teacher()
    let first = try makeRegistry(model)
    let second = try ModuleRegistry.open(at: folder)
    try first.add(block: model.encoder.blocks[0].copy(), span: ModuleSpan(stack: .encoder, granularity: 2, index: 0), provenance: Self.provenance())
    try second.add(block: model.decoder.blocks[0].copy(), span: ModuleSpan(stack: .decoder, granularity: 2, index: 0), provenance: Self.provenance())
    XCTAssertEqual(try ModuleRegistry.open(at: folder).entries.map(\.id), ["decoder.g2.0", "encoder.g2.0"])
  }

  /// Two writers, each with its own instance (and so its own lock file
  /// descriptor), add different modules at once; every module survives.
  func testConcurrentWritersLeaveAValidManifestWithEveryModule() throws {
    let summary = TeacherSummary(modelType: "t5", encoderLayers: 24, decoderLayers: 24, dModel: 16)
    _ = try ModuleRegistry.create(at: folder, teacherFingerprint: Self.fingerprint, teacher: summary)
    let folder = self.folder!
    let failures = FailureLog()
    DispatchQueue.concurrentPerform(iterations: 2) { writer in
      do {
        let stack: StackRole = writer == 0 ? .encoder : .decoder
        let model = Self.teacher(seed: UInt64(writer))
        let registry = try ModuleRegistry.open(at: folder)
        for granularity in [2, 3] {
          for index in 0..<(24 / granularity) {
            let span = ModuleSpan(stack: stack, granularity: granularity, index: index)
            let block = (stack == .encoder ? model.encoder : model.decoder).blocks[0].copy()
            try registry.add(block: block, span: span, provenance: Self.provenance(steps: index))
            try registry.updateValidation(id: span.id, ModuleValidation(loss: Float(index)))
          }
        }
      } catch {
        failures.append("writer \(writer): \(error)")
      }
    }
    XCTAssertEqual(failures.messages, [])
    let registry = try ModuleRegistry.open(at: folder)
    XCTAssertEqual(registry.entries.count, 2 * (12 + 8))
    XCTAssertEqual(registry.entries.filter { $0.validation?.loss == Float($0.moduleSpan.index) }.count, 40)
    XCTAssertEqual(registry.verify().filter(\.isError), [])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
    XCTAssertEqual(leftovers, [])
  }

  // MARK: Teacher fingerprint

  func testTeacherFingerprintIsTheWeightFileDigest() throws {
    let model = Self.teacher()
    let modelFolder = folder.appendingPathComponent("teacher")
    try ModelExport.save(model, to: modelFolder)
    let weights = modelFolder.appendingPathComponent("model.safetensors")
    let fingerprint = try TeacherFingerprint.of(modelFolder: modelFolder)
    XCTAssertEqual(fingerprint, SHA256.hexDigest(of: try Data(contentsOf: weights)))
    XCTAssertNotEqual(fingerprint, try {
      let other = folder.appendingPathComponent("other")
      try ModelExport.save(Self.teacher(seed: 2), to: other)
      return try TeacherFingerprint.of(modelFolder: other)
    }())
    assertThrows(try TeacherFingerprint.of(modelFolder: folder), containing: ["model.safetensors"])
  }
}

/// Messages collected from several threads.
private final class FailureLog: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [String] = []
  func append(_ message: String) { lock.withLock { stored.append(message) } }
  var messages: [String] { lock.withLock { stored } }
}
