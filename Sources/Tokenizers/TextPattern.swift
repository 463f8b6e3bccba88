import Foundation

/// A `Replace` / `Split` pattern: a literal string or a regular expression.
enum TextPattern: @unchecked Sendable {
  // NSRegularExpression is immutable and documented as thread-safe.
  case literal([Unicode.Scalar])
  case regex(NSRegularExpression)

  /// Reads `{"String": "…"}` or `{"Regex": "…"}`.
  init(_ field: JSONField) throws {
    if !field["String"].isAbsent {
      let literal = Array(try field["String"].string().unicodeScalars)
      guard !literal.isEmpty else { throw field["String"].error("empty pattern") }
      self = .literal(literal)
    } else if !field["Regex"].isAbsent {
      let source = try field["Regex"].string()
      do {
        self = .regex(try NSRegularExpression(pattern: source))
      } catch {
        throw field["Regex"].error("cannot compile regular expression \"\(source)\"")
      }
    } else {
      throw field.error("expected {\"String\": …} or {\"Regex\": …}")
    }
  }

  /// Non-overlapping matches, left to right, as scalar-index ranges.
  func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
    switch self {
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
      let utf16 = Array(text.utf16)
      // Map UTF-16 offsets back to scalar indices.
      var scalarIndexAtUTF16 = [Int](repeating: 0, count: utf16.count + 1)
      var scalarIndex = 0
      var unit = 0
      for scalar in scalars {
        scalarIndexAtUTF16[unit] = scalarIndex
        let width = scalar.value > 0xFFFF ? 2 : 1
        if width == 2 { scalarIndexAtUTF16[unit + 1] = scalarIndex }
        unit += width
        scalarIndex += 1
      }
      scalarIndexAtUTF16[utf16.count] = scalars.count
      let range = NSRange(location: 0, length: utf16.count)
      return regex.matches(in: text, range: range).compactMap { match in
        guard match.range.location != NSNotFound, match.range.length > 0 else { return nil }
        let lower = scalarIndexAtUTF16[match.range.location]
        let upper = scalarIndexAtUTF16[match.range.location + match.range.length]
        return lower..<upper
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
