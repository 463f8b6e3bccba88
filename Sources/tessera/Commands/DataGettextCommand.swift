import Foundation
import ModularCompression
import TensorCore
import TextTasks

/// `tessera data gettext`: a real translation corpus from the machine's gettext catalogues.
enum DataGettextCommand {
  static let command = Command(
    path: ["data", "gettext"], summary: "Build an English → LANG corpus from the machine's gettext catalogues",
    discussion: """
      Reads every LOCALES/LANG/LC_MESSAGES/*.mo catalogue (Debian ships them with its programs), keeps
      one-line messages within the byte limits, the first translation of a repeated English message,
      and writes DIR/train.jsonl, DIR/valid.jsonl, DIR/test.jsonl and DIR/task.json. A message's split
      is fixed by the hash of its English text (80/10/10), so splits never share a source. The corpus
      is real text no one here wrote: use it for ablations, never commit it. DIR must be new, empty or
      task data written before.

      EXAMPLES:
        tessera data gettext --out data/gettext-de
        tessera data gettext --language fr --test 1000 --out data/gettext-fr
      """,
    options: [
      .value("--out", "DIR", "Folder for the files (created if missing)"),
      .value("--language", "LANG", "Catalogue language", default: "de"),
      .value("--locales", "DIR", "Where the catalogues are", default: "/usr/share/locale"),
      .value("--train", "N", "Most training examples (default: all)"),
      .value("--valid", "N", "Most validation examples", default: "500"),
      .value("--test", "N", "Most test examples", default: "1000"),
      .value("--max-source-bytes", "N", "Longest English message kept, in UTF-8 bytes", default: "60"),
      .value("--max-target-bytes", "N", "Longest translation kept, in UTF-8 bytes", default: "80"),
      .flag("--force", "Replace another Tessera output (a model, report, …) at --out"),
    ]
  ) { arguments in
    let out = URL(fileURLWithPath: try arguments.require("--out"))
    var corpus = GettextCorpus()
    corpus.language = arguments.string("--language") ?? corpus.language
    guard !corpus.language.isEmpty, !corpus.language.contains("/"), !corpus.language.hasPrefix(".") else {
      throw UsageError("--language expects a locale name such as de or pt_BR, got '\(corpus.language)'")
    }
    corpus.localesFolder = URL(fileURLWithPath: arguments.string("--locales") ?? corpus.localesFolder.path)
    corpus.maxSourceBytes = try positive(arguments, "--max-source-bytes") ?? corpus.maxSourceBytes
    corpus.maxTargetBytes = try positive(arguments, "--max-target-bytes") ?? corpus.maxTargetBytes
    let limits: [TaskSplit: Int?] = [
      .train: try positive(arguments, "--train"), .valid: try positive(arguments, "--valid") ?? 500,
      .test: try positive(arguments, "--test") ?? 1000,
    ]
    let existing = try OutputFolder.claim(out, as: .dataset, force: arguments.has("--force"))
    let built = try corpus.examples()
    for warning in built.skipped { FileHandle.standardError.write(Data("warning: skipped \(warning)\n".utf8)) }
    var sizes: [String: Int] = [:]
    var splits: [TaskSplit: [Example]] = [:]
    for split in TaskSplit.allCases {
      let all = built.splits[split] ?? []
      splits[split] = limits[split].flatMap { $0 }.map { Array(all.prefix($0)) } ?? all
      sizes[split.rawValue] = splits[split]?.count ?? 0
    }
    if case .tessera(let kind) = existing, kind != .dataset { try FileManager.default.removeItem(at: out) }
    try FileAccess.createFolder(out)
    for split in TaskSplit.allCases {
      try DataFileWriter.writeJSONL(splits[split] ?? [], to: out.appendingPathComponent("\(split.rawValue).jsonl"))
    }
    let provenance = TaskFileProvenance(
      task: "gettext",
      settings: [
        "language": corpus.language, "locales": corpus.localesFolder.path, "catalogues": String(built.catalogues),
        "max-source-bytes": String(corpus.maxSourceBytes), "max-target-bytes": String(corpus.maxTargetBytes),
      ], seed: 0, sizes: sizes)
    try TaskFileProvenance.write(provenance, into: out)
    print(
      "wrote \(sizes["train"] ?? 0) train, \(sizes["valid"] ?? 0) valid, \(sizes["test"] ?? 0) test pairs "
        + "from \(built.catalogues) '\(corpus.language)' catalogues to \(out.path)")
  }

  private static func positive(_ arguments: ParsedArguments, _ name: String) throws -> Int? {
    guard let value = try arguments.int(name) else { return nil }
    guard value > 0 else { throw UsageError("\(name) must be positive (got \(value))") }
    return value
  }
}
