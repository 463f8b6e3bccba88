import Foundation

/// A `tokenizer.json` normalizer: rewrites text before it is split.
///
/// Each step also keeps track of whether the text still starts at the first
/// character of the original input, which `Metaspace`'s "first" prepend
/// scheme asks about.
indirect enum TextNormalizer: Sendable {
  case nfc, nfd, nfkc, nfkd
  case lowercase
  case strip(left: Bool, right: Bool)
  case replace(TextPattern, content: [Unicode.Scalar])
  case prepend(String)
  case precompiled(PrecompiledCharsmap)
  case sequence([TextNormalizer])

  init(_ field: JSONField) throws {
    let type = try field["type"].string()
    switch type {
    case "NFC": self = .nfc
    case "NFD": self = .nfd
    case "NFKC": self = .nfkc
    case "NFKD": self = .nfkd
    case "Lowercase": self = .lowercase
    case "Strip":
      self = .strip(
        left: try field["strip_left"].bool(default: true), right: try field["strip_right"].bool(default: true))
    case "Replace":
      self = .replace(try TextPattern(field["pattern"]), content: Array(try field["content"].string().unicodeScalars))
    case "Prepend":
      self = .prepend(try field["prepend"].string())
    case "Precompiled":
      // An empty charsmap (what some converters write) changes nothing.
      let text = try field["precompiled_charsmap"].optionalString() ?? ""
      self =
        text.isEmpty
        ? .sequence([]) : .precompiled(try PrecompiledCharsmap(base64: text, field: field["precompiled_charsmap"]))
    case "Sequence":
      self = .sequence(try field["normalizers"].array().map(TextNormalizer.init))
    default:
      throw field["type"].error("unsupported normalizer type \"\(type)\"")
    }
  }

  func normalize(_ text: String, startsAtOrigin: inout Bool) -> String {
    switch self {
    case .nfc: return text.isASCII ? text : text.precomposedStringWithCanonicalMapping
    case .nfd: return text.isASCII ? text : text.decomposedStringWithCanonicalMapping
    case .nfkc: return text.isASCII ? text : text.precomposedStringWithCompatibilityMapping
    case .nfkd: return text.isASCII ? text : text.decomposedStringWithCompatibilityMapping
    case .lowercase:
      // Scalar by scalar, as Rust's `char::to_lowercase` (no final-sigma rule).
      var out = String.UnicodeScalarView()
      for scalar in text.unicodeScalars {
        if scalar.isASCII {
          out.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
        } else {
          out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
      }
      return String(out)
    case .strip(let left, let right):
      var scalars = Substring(text).unicodeScalars
      if left {
        let trimmed = scalars.drop { $0.properties.isWhitespace }
        if trimmed.startIndex != scalars.startIndex, !trimmed.isEmpty { startsAtOrigin = false }
        scalars = trimmed
      }
      if right {
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
      }
      return String(scalars)
    case .replace(let pattern, let content):
      guard pattern.mayMatch(text) else { return text }
      let replaced = pattern.replacingMatches(in: Array(text.unicodeScalars), with: content)
      // Text deleted at the start moves the start away from the original's.
      if content.isEmpty, replaced.replacedAtStart { startsAtOrigin = false }
      return String(String.UnicodeScalarView(replaced.scalars))
    case .prepend(let prefix):
      return text.isEmpty ? text : prefix + text
    case .precompiled(let charsmap):
      return charsmap.normalize(text, startsAtOrigin: &startsAtOrigin)
    case .sequence(let steps):
      var text = text
      for step in steps { text = step.normalize(text, startsAtOrigin: &startsAtOrigin) }
      return text
    }
  }
}

extension String {
  var isASCII: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
