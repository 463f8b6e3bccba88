import Foundation

/// A `Replace` pattern: a literal string or a regular expression.
struct TextPattern: @unchecked Sendable {
  // @unchecked: NSRegularExpression is immutable and documented as thread-safe.
  enum Kind {
    case literal([Unicode.Scalar])
    /// A regex that is one character repeated, such as T5's `" {2,}"`:
    /// matched by hand because `NSRegularExpression` is slow on short strings.
    case repeated(Unicode.Scalar, minimum: Int, maximum: Int?)
    case regex(NSRegularExpression)
  }

  let kind: Kind
  /// UTF-8 that every match contains, when known: text without it is skipped.
  private let requiredBytes: [UInt8]?

  /// Reads `{"String": "…"}` or `{"Regex": "…"}`.
  init(_ field: JSONField) throws {
    if !field["String"].isAbsent {
      let literal = Array(try field["String"].string().unicodeScalars)
      guard !literal.isEmpty else { throw field["String"].error("empty pattern") }
      self.init(.literal(literal))
    } else if !field["Regex"].isAbsent {
      let source = try field["Regex"].string()
      if let simple = Self.repetition(source) {
        self.init(simple)
        return
      }
      do {
        self.init(.regex(try NSRegularExpression(pattern: source)))
      } catch {
        throw field["Regex"].error("cannot compile regular expression \"\(source)\"")
      }
    } else {
      throw field.error("expected {\"String\": …} or {\"Regex\": …}")
    }
  }

  init(_ kind: Kind) {
    self.kind = kind
    switch kind {
    case .literal(let literal): requiredBytes = Array(String(String.UnicodeScalarView(literal)).utf8)
    case .repeated(let character, let minimum, _):
      requiredBytes = Array(String(repeating: String(character), count: minimum).utf8)
    case .regex: requiredBytes = nil
    }
  }

  /// `x+`, `x{n}`, `x{n,}` or `x{n,m}` for a literal `x` (or an escaped
  /// metacharacter), as a `.repeated` kind; `nil` for anything else.
  static func repetition(_ source: String) -> Kind? {
    var scalars = Array(source.unicodeScalars)
    let meta = Set("\\^$.|?*+()[]{}".unicodeScalars)
    guard let first = scalars.first else { return nil }
    let character: Unicode.Scalar
    if first == "\\" {
      guard scalars.count > 1, meta.contains(scalars[1]) else { return nil }
      character = scalars[1]
      scalars.removeFirst(2)
    } else {
      guard !meta.contains(first) else { return nil }
      character = first
      scalars.removeFirst()
    }
    let rest = String(String.UnicodeScalarView(scalars))
    if rest == "+" { return .repeated(character, minimum: 1, maximum: nil) }
    guard rest.hasPrefix("{"), rest.hasSuffix("}") else { return nil }
    let bounds = rest.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
    guard let minimum = Int(bounds[0]), minimum > 0 else { return nil }
    if bounds.count == 1 { return .repeated(character, minimum: minimum, maximum: minimum) }
    guard bounds.count == 2 else { return nil }
    if bounds[1].isEmpty { return .repeated(character, minimum: minimum, maximum: nil) }
    guard let maximum = Int(bounds[1]), maximum >= minimum else { return nil }
    return .repeated(character, minimum: minimum, maximum: maximum)
  }

  /// Whether `text` may hold a match; `false` is certain, so the caller can
  /// skip the work of finding matches (most text has none).
  func mayMatch(_ text: String) -> Bool {
    guard let needle = requiredBytes else { return true }
    var found = false
    text.utf8.withContiguousStorageIfAvailable { bytes in
      guard bytes.count >= needle.count else { return }
      for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
        if bytes[start..<start + needle.count].elementsEqual(needle) {
          found = true
          return
        }
      }
    } ?? { found = true }()
    return found
  }

  /// Non-overlapping matches, left to right, as scalar-index ranges.
  func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
    switch kind {
    case .repeated(let character, let minimum, let maximum):
      // Greedy and leftmost, like the regex: take each run, in chunks of at
      // most `maximum`, dropping a tail shorter than `minimum`.
      var found: [Range<Int>] = []
      var index = 0
      while index < scalars.count {
        guard scalars[index] == character else {
          index += 1
          continue
        }
        var end = index
        while end < scalars.count, scalars[end] == character { end += 1 }
        var start = index
        while end - start >= minimum {
          let stop = maximum.map { min(end, start + $0) } ?? end
          found.append(start..<stop)
          start = stop
        }
        index = end
      }
      return found
    case .literal(let literal):
      var found: [Range<Int>] = []
      var index = 0
      while index + literal.count <= scalars.count {
        if scalars[index] == literal[0], scalars[index..<index + literal.count].elementsEqual(literal) {
          found.append(index..<index + literal.count)
          index += literal.count
        } else {
          index += 1
        }
      }
      return found
    case .regex(let regex):
      let text = String(String.UnicodeScalarView(scalars))
      // NSRegularExpression counts UTF-16 units; map them back to scalars.
      var scalarIndexAtUTF16: [Int] = []
      scalarIndexAtUTF16.reserveCapacity(scalars.count * 2 + 1)
      for (index, scalar) in scalars.enumerated() {
        scalarIndexAtUTF16.append(index)
        if scalar.value > 0xFFFF { scalarIndexAtUTF16.append(index) }
      }
      scalarIndexAtUTF16.append(scalars.count)
      let range = NSRange(location: 0, length: scalarIndexAtUTF16.count - 1)
      return regex.matches(in: text, range: range).compactMap { match in
        guard match.range.location != NSNotFound, match.range.length > 0 else { return nil }
        return scalarIndexAtUTF16[match.range.location]..<scalarIndexAtUTF16[match.range.location + match.range.length]
      }
    }
  }

  /// `scalars` with every match replaced by `content`, and whether a match
  /// began at the very start.
  func replacingMatches(
    in scalars: [Unicode.Scalar], with content: [Unicode.Scalar]
  ) -> (scalars: [Unicode.Scalar], replacedAtStart: Bool) {
    let found = matches(in: scalars)
    guard !found.isEmpty else { return (scalars, false) }
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(scalars.count)
    var last = 0
    for match in found {
      out += scalars[last..<match.lowerBound]
      out += content
      last = match.upperBound
    }
    out += scalars[last...]
    return (out, found[0].lowerBound == 0)
  }
}
