import Foundation
import ModularCompression

/// `tessera registry …`: inspect, check and prune a module registry.
enum RegistryCommands {
  private static let folderArgument = Positional(name: "DIR", help: "Registry folder (holds manifest.json)")
  private static let moduleArgument = Positional(name: "MODULE", help: "Module id, e.g. encoder.g3.1 (see 'registry list')")

  static let list = Command(
    path: ["registry", "list"], summary: "List the modules of a registry with their spans and validation results",
    discussion: """
      One row per module: id (stack.gGRANULARITY.INDEX), the teacher layers [start, end) it
      replaces, its parameter count, the quality probe's validation loss and metric (- until
      measured) and its file.

      EXAMPLE:
        tessera registry list Checkpoints/demo/registry
      """,
    positionals: [folderArgument]
  ) { arguments in
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: arguments.positional(0)!))
    print(header(registry))
    guard !registry.entries.isEmpty else {
      print("no modules yet")
      return
    }
    let rows = registry.entries.map { entry in
      [
        entry.id, "[\(entry.span[0]), \(entry.span[1]))", String(entry.parameters),
        format(entry.validation?.loss), format(entry.validation?.metric, name: entry.validation?.metricName), entry.file,
      ]
    }
    print(table(header: ["id", "span", "params", "val loss", "val metric", "file"], rows: rows, rightAligned: [2, 3]))
    let counts = Dictionary(grouping: registry.entries) { "\($0.stack.rawValue) g\($0.granularity)" }
      .map { "\($0.key): \($0.value.count)" }.sorted()
    print("\(registry.entries.count) modules (\(counts.joined(separator: ", ")))")
  }

  static let show = Command(
    path: ["registry", "show"], summary: "Show everything the manifest records about one module",
    discussion: """
      Prints the module's span, parameters, file, SHA-256 (and whether the file still matches it),
      training provenance and validation results.

      EXAMPLE:
        tessera registry show Checkpoints/demo/registry decoder.g2.0
      """,
    positionals: [folderArgument, moduleArgument]
  ) { arguments in
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: arguments.positional(0)!))
    let id = arguments.positional(1)!
    guard let entry = registry.entry(id) else {
      throw RegistryError.unknownModule(id: id, folder: registry.folder.path, available: registry.entries.map(\.id))
    }
    let url = registry.folder.appendingPathComponent(entry.file)
    let fileState: String
    if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int {
      let matches = (try? SHA256.hexDigest(ofFile: url)) == entry.sha256
      fileState = "\(size) bytes, " + (matches ? "checksum ok" : "CHECKSUM MISMATCH")
    } else {
      fileState = "MISSING"
    }
    var lines: [(String, String)] = [
      ("module", entry.id),
      ("stack", entry.stack.rawValue),
      ("granularity", String(entry.granularity)),
      ("span", "[\(entry.span[0]), \(entry.span[1])) — teacher \(entry.stack.rawValue) layers \(entry.span[0])…\(entry.span[1] - 1)"),
      ("parameters", String(entry.parameters)),
      ("file", "\(entry.file) (\(fileState))"),
      ("sha256", entry.sha256),
      ("created", entry.provenance.created),
      ("steps", String(entry.provenance.steps)),
      ("seed", String(entry.provenance.seed)),
      ("initialisation", entry.provenance.initialisation),
    ]
    if let recipe = entry.provenance.recipe { lines.append(("recipe", recipe)) }
    if let command = entry.provenance.command { lines.append(("command", command)) }
    lines.append(("validation loss", format(entry.validation?.loss)))
    lines.append(("validation metric", format(entry.validation?.metric, name: entry.validation?.metricName)))
    lines.append(("teacher", registry.teacherFingerprint))
    for (key, value) in lines { print(key.padding(toLength: 19, withPad: " ", startingAt: 0) + value) }
  }

  static let verify = Command(
    path: ["registry", "verify"], summary: "Check the modules and the teacher against the manifest (exit 1 on errors)",
    discussion: """
      For each module: the file exists, its SHA-256 matches the manifest, its safetensors header
      reads, its metadata names this module and this registry's teacher, it holds the manifest's
      parameter count, and its keys and shapes are those of the teacher's first layer of its span.
      For the teacher (the folder the manifest names, or --teacher): the SHA-256 of its
      model.safetensors is the manifest's fingerprint and its config.json has the manifest's
      model type, layer counts and width.

      Errors make the exit status 1. Files in the folder that the manifest does not list (other
      than Tessera's lock, training checkpoint and latency profile) are warnings: the registry
      still works, and they may be a module whose entry was lost or a file put there by hand.

      EXAMPLE:
        tessera registry verify Checkpoints/demo/registry
      """,
    positionals: [folderArgument],
    options: [.value("--teacher", "DIR", "Teacher model folder (default: the one the manifest names)")]
  ) { arguments in
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: arguments.positional(0)!))
    let problems = registry.verify(teacherFolder: arguments.string("--teacher").map { URL(fileURLWithPath: $0) })
    let failed = Set(problems.filter(\.isError).compactMap(\.moduleID))
    for entry in registry.entries where !failed.contains(entry.id) { print("ok       \(entry.id)") }
    for problem in problems {
      print("\(problem.isError ? "FAILED " : "warning") \(problem.moduleID ?? "registry"): \(problem.message)")
    }
    let errors = problems.filter(\.isError).count
    guard errors == 0 else {
      throw RegistryCheckFailure(description: "\(errors) error\(errors == 1 ? "" : "s") in registry '\(registry.folder.path)'")
    }
    let warnings = problems.count
    print(
      "\(registry.entries.count) modules verified in \(registry.folder.path)"
        + (warnings == 0 ? "" : " (\(warnings) warning\(warnings == 1 ? "" : "s"))"))
  }

  static let remove = Command(
    path: ["registry", "remove"], summary: "Remove a module from a registry and delete its file",
    discussion: """
      Updates manifest.json atomically under the registry lock, then deletes the module's file.

      EXAMPLE:
        tessera registry remove runs/registry encoder.g6.1
      """,
    positionals: [folderArgument, moduleArgument]
  ) { arguments in
    let registry = try ModuleRegistry.open(at: URL(fileURLWithPath: arguments.positional(0)!))
    let id = arguments.positional(1)!
    try registry.remove(id: id)
    print("removed \(id) from \(registry.folder.path) (\(registry.entries.count) modules left)")
  }

  /// The registry's teacher in one line.
  private static func header(_ registry: ModuleRegistry) -> String {
    let teacher = registry.manifest.teacher
    return "registry \(registry.folder.path): teacher \(teacher.modelType) \(teacher.encoderLayers)+\(teacher.decoderLayers) layers, "
      + "d_model \(teacher.dModel)" + (teacher.path.map { ", from \($0)" } ?? "")
      + ", fingerprint \(registry.teacherFingerprint.prefix(12))…"
  }

  private static func format(_ value: Float?, name: String? = nil) -> String {
    guard let value else { return "-" }
    return String(format: "%.4f", value) + (name.map { " \($0)" } ?? "")
  }

  /// Columns padded to their widest cell; `rightAligned` holds numeric column indices.
  private static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max()! }
    return all.map { row in
      row.indices.map { column in
        let cell = row[column]
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? padding + cell : cell + padding
      }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
  }
}

/// `registry verify` found problems: exit status 1.
private struct RegistryCheckFailure: Error, CustomStringConvertible {
  let description: String
}
