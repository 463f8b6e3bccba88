import Foundation

/// The message pairs of a compiled gettext catalogue (`.mo`): English
/// `msgid` → translated `msgstr`, the real translation data most Debian
/// machines already hold under `/usr/share/locale/LANG/LC_MESSAGES/`.
///
/// Every offset and length read from the file is checked against its size,
/// so a truncated or hostile file is an error, never a read outside it.
public struct GettextCatalog: Sendable {
  /// Singular messages with a non-empty translation, in file order. The
  /// header (empty msgid) is left out; a message with a context
  /// (`ctxt\u{4}msgid`) keeps the msgid; plural entries keep their first form.
  public let pairs: [(source: String, target: String)]

  public init(contentsOf url: URL) throws {
    let bytes: [UInt8]
    do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
      throw GettextCatalogError(file: url.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    try self.init(bytes: bytes, file: url.path)
  }

  public init(bytes: [UInt8], file: String) throws {
    func fail(_ reason: String) -> GettextCatalogError { GettextCatalogError(file: file, reason: reason) }
    func word(at offset: Int, bigEndian: Bool) throws -> Int {
      guard offset >= 0, offset <= bytes.count - 4 else { throw fail("is truncated (a header field at byte \(offset))") }
      let b = bytes[offset..<offset + 4].map(Int.init)
      return bigEndian ? (b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) : (b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0])
    }
    guard bytes.count >= 20 else { throw fail("is too short to be a gettext catalogue") }
    let magic = try word(at: 0, bigEndian: false)
    let bigEndian: Bool
    switch magic {
    case 0x9504_12de: bigEndian = false
    case 0xde12_0495: bigEndian = true
    default: throw fail("is not a gettext .mo catalogue (magic \(String(magic, radix: 16)))")
    }
    let count = try word(at: 8, bigEndian: bigEndian)
    let originals = try word(at: 12, bigEndian: bigEndian)
    let translations = try word(at: 16, bigEndian: bigEndian)
    guard count <= bytes.count / 16 else { throw fail("claims \(count) messages, more than its size holds") }
    func string(table: Int, index: Int) throws -> [UInt8] {
      let length = try word(at: table + 8 * index, bigEndian: bigEndian)
      let offset = try word(at: table + 8 * index + 4, bigEndian: bigEndian)
      guard offset <= bytes.count, length <= bytes.count - offset else {
        throw fail("message \(index) points outside the file (offset \(offset), length \(length))")
      }
      return Array(bytes[offset..<offset + length])
    }
    var pairs: [(String, String)] = []
    for index in 0..<count {
      var source = try string(table: originals, index: index)
      var target = try string(table: translations, index: index)
      if let context = source.firstIndex(of: 4) { source = Array(source[(context + 1)...]) }
      if let plural = source.firstIndex(of: 0) { source = Array(source[..<plural]) }
      if let plural = target.firstIndex(of: 0) { target = Array(target[..<plural]) }
      guard !source.isEmpty, !target.isEmpty,
        let s = String(validating: source, as: UTF8.self), let t = String(validating: target, as: UTF8.self)
      else { continue }
      pairs.append((s, t))
    }
    self.pairs = pairs
  }
}

/// A catalogue that cannot be read, naming the file.
public struct GettextCatalogError: Error, CustomStringConvertible {
  public let file: String
  public let reason: String
  public var description: String { "\(file): \(reason)" }
}
