import Foundation
import TensorCore

/// A translation corpus (English → a locale) built from the gettext
/// catalogues a machine already has: real text that no one here wrote, for
/// ablations that the built-in tasks are too regular to show. The corpus is
/// built on the machine and never committed.
///
/// Every catalogue `LOCALES/LANG/LC_MESSAGES/*.mo` is read in name order;
/// messages of one line within the byte limits are kept, the first
/// translation of a repeated English message wins, and the split of each
/// message is fixed by the stable hash of its English text (as for the
/// built-in tasks: 80% train, 10% valid, 10% test). Within a split the
/// examples are ordered by a second hash, so the first `n` are a fair sample
/// of every catalogue rather than the first ones alphabetically.
public struct GettextCorpus: Sendable {
  public var localesFolder = URL(fileURLWithPath: "/usr/share/locale")
  public var language = "de"
  public var maxSourceBytes = 60
  public var maxTargetBytes = 80

  public init() {}

  /// The catalogues read, in order.
  public func catalogues() throws -> [URL] {
    let folder = localesFolder.appendingPathComponent(language).appendingPathComponent("LC_MESSAGES")
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
      throw GettextCatalogError(file: folder.path, reason: "has no gettext catalogues to read (\(error.localizedDescription))")
    }
    let files = names.filter { $0.hasSuffix(".mo") }.sorted().map { folder.appendingPathComponent($0) }
    guard !files.isEmpty else { throw GettextCatalogError(file: folder.path, reason: "holds no .mo catalogue") }
    return files
  }

  /// The examples of every split; `skipped` counts catalogues that could not be read.
  public func examples() throws -> (splits: [TaskSplit: [Example]], catalogues: Int, skipped: [String]) {
    var seen = Set<String>()
    var splits: [TaskSplit: [(order: Int, example: Example)]] = [:]
    var skipped: [String] = []
    let files = try catalogues()
    for file in files {
      let catalogue: GettextCatalog
      do { catalogue = try GettextCatalog(contentsOf: file) } catch {
        skipped.append("\(error)")
        continue
      }
      for (source, target) in catalogue.pairs where keeps(source, maxSourceBytes) && keeps(target, maxTargetBytes) {
        guard seen.insert(source).inserted else { continue }
        splits[BuiltinTask.split(ofSource: source), default: []].append((stableBucket("order " + source), Example(source: source, target: target)))
      }
    }
    var ordered: [TaskSplit: [Example]] = [:]
    for split in TaskSplit.allCases {
      ordered[split] = (splits[split] ?? []).enumerated().sorted { a, b in
        a.element.order != b.element.order ? a.element.order < b.element.order : a.offset < b.offset
      }.map(\.element.example)
    }
    return (ordered, files.count, skipped)
  }

  /// One line, no tabs, no outer spaces, within `limit` UTF-8 bytes, with a
  /// letter outside its printf directives (`%s` alone is not text).
  private func keeps(_ text: String, _ limit: Int) -> Bool {
    guard text.utf8.count <= limit, !text.contains(where: { $0 == "\n" || $0 == "\t" || $0 == "\r" }),
      text.trimmingCharacters(in: .whitespaces) == text
    else { return false }
    let words = text.replacingOccurrences(of: "%[-+ 0#'0-9.*$]*[hlLqjzt]*[a-zA-Z%]", with: "", options: .regularExpression)
    return words.unicodeScalars.contains { CharacterSet.letters.contains($0) }
  }
}
