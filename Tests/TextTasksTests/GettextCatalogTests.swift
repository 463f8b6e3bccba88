import Foundation
import XCTest

@testable import TextTasks

final class GettextCatalogTests: XCTestCase {
  /// A little-endian `.mo` file of `(msgid, msgstr)` byte strings.
  static func catalogue(_ messages: [([UInt8], [UInt8])]) -> [UInt8] {
    let count = messages.count
    let originals = 28, translations = 28 + 8 * count
    var strings: [UInt8] = []
    var tables: ([Int], [Int]) = ([], [])
    let start = 28 + 16 * count
    for (source, target) in messages {
      tables.0 += [source.count, start + strings.count]
      strings += source + [0]
      tables.1 += [target.count, start + strings.count]
      strings += target + [0]
    }
    func word(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
    var bytes = word(0x9504_12de) + word(0) + word(count) + word(originals) + word(translations) + word(0) + word(0)
    bytes += tables.0.flatMap(word) + tables.1.flatMap(word) + strings
    return bytes
  }

  func testReadsMessagesContextsAndPluralsAndSkipsTheHeader() throws {
    let bytes = Self.catalogue([
      ([], Array("Content-Type: text/plain\n".utf8)),
      (Array("Open file".utf8), Array("Datei öffnen".utf8)),
      (Array("menu\u{4}Quit".utf8), Array("Beenden".utf8)),
      (Array("%d file\u{0}%d files".utf8), Array("%d Datei\u{0}%d Dateien".utf8)),
      (Array("Untranslated".utf8), []),
    ])
    let catalogue = try GettextCatalog(bytes: bytes, file: "x.mo")
    XCTAssertEqual(catalogue.pairs.map(\.source), ["Open file", "Quit", "%d file"])
    XCTAssertEqual(catalogue.pairs.map(\.target), ["Datei öffnen", "Beenden", "%d Datei"])
  }

  func testTruncatedAndForeignFilesAreErrorsNamingTheFile() {
    let good = Self.catalogue([(Array("Open".utf8), Array("Öffnen".utf8))])
    for (bytes, fragment) in [
      (Array(good.prefix(12)), "too short"), (Array(repeating: 7, count: 40), "not a gettext"),
      (Array(good.prefix(good.count - 4)), "outside the file"),
    ] {
      XCTAssertThrowsError(try GettextCatalog(bytes: bytes, file: "bad.mo")) { error in
        XCTAssertTrue("\(error)".hasPrefix("bad.mo: ") && "\(error)".contains(fragment), "\(error)")
      }
    }
    var lying = good
    lying[8] = 0xff  // a message count larger than the file holds
    lying[9] = 0xff
    XCTAssertThrowsError(try GettextCatalog(bytes: lying, file: "bad.mo")) { error in
      XCTAssertTrue("\(error)".contains("more than its size holds"), "\(error)")
    }
  }

  func testCorpusKeepsOneLineMessagesOnceAndSplitsByTheEnglishText() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("gettext-\(UUID().uuidString)")
    let folder = root.appendingPathComponent("de/LC_MESSAGES")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    var messages = (0..<300).map { (Array("Message number \($0)".utf8), Array("Nachricht Nummer \($0)".utf8)) }
    messages.append((Array("Two\nlines".utf8), Array("Zwei\nZeilen".utf8)))
    messages.append((Array("%s".utf8), Array("%s".utf8)))
    try Data(Self.catalogue(messages)).write(to: folder.appendingPathComponent("a.mo"))
    try Data(Self.catalogue([(Array("Message number 1".utf8), Array("Other".utf8))])).write(
      to: folder.appendingPathComponent("b.mo"))
    try Data("not a catalogue".utf8).write(to: folder.appendingPathComponent("c.mo"))
    var corpus = GettextCorpus()
    corpus.localesFolder = root
    let built = try corpus.examples()
    XCTAssertEqual(built.catalogues, 3)
    XCTAssertEqual(built.skipped.count, 1)
    let all = TaskSplit.allCases.flatMap { built.splits[$0] ?? [] }
    XCTAssertEqual(all.count, 300, "one-line messages with a letter, each English text once")
    XCTAssertEqual(all.first { $0.source == "Message number 1" }?.target, "Nachricht Nummer 1", "the first translation wins")
    for split in TaskSplit.allCases {
      XCTAssertTrue(built.splits[split, default: []].allSatisfy { BuiltinTask.split(ofSource: $0.source) == split })
    }
    XCTAssertGreaterThan(built.splits[.test, default: []].count, 10)
  }
}
