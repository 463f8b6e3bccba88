/// A piece of text on its way to the model, with whether it begins at the
/// first character of the original input.
struct PreToken {
  var text: String
  var startsAtOrigin: Bool
}

/// When `Metaspace` puts its replacement character in front of a piece.
enum PrependScheme: String, Sendable {
  case always, first, never
}

/// A `tokenizer.json` pre-tokenizer: cuts normalized text into the pieces
/// the model sees one at a time.
indirect enum PreTokenizer: Sendable {
  case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)
  case whitespaceSplit
  case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
  case sequence([PreTokenizer])

  init(_ field: JSONField) throws {
    let type = try field["type"].string()
    switch type {
    case "Metaspace":
      self = .metaspace(
        replacement: try field["replacement"].scalar(), prepend: try Self.prependScheme(field),
        split: try field["split"].bool(default: true))
    case "WhitespaceSplit":
      self = .whitespaceSplit
    case "ByteLevel":
      self = .byteLevel(
        addPrefixSpace: try field["add_prefix_space"].bool(default: true), useRegex: try field["use_regex"].bool(default: true))
    case "Sequence":
      self = .sequence(try field["pretokenizers"].array().map(PreTokenizer.init))
    default:
      throw field["type"].error("unsupported pre-tokenizer type \"\(type)\"")
    }
  }

  /// `prepend_scheme`, or the legacy `add_prefix_space` flag it replaced.
  static func prependScheme(_ field: JSONField) throws -> PrependScheme {
    if let name = try field["prepend_scheme"].optionalString() {
      guard let scheme = PrependScheme(rawValue: name) else {
        throw field["prepend_scheme"].error("expected \"always\", \"first\" or \"never\", got \"\(name)\"")
      }
      return scheme
    }
    return try field["add_prefix_space"].bool(default: true) ? .always : .never
  }

  /// Splits every piece; empty pieces are dropped.
  func split(_ pieces: [PreToken]) -> [PreToken] {
    switch self {
    case .sequence(let steps):
      return steps.reduce(pieces) { $1.split($0) }
    default:
      return pieces.flatMap(split(piece:)).filter { !$0.text.isEmpty }
    }
  }

  private func split(piece: PreToken) -> [PreToken] {
    switch self {
    case .metaspace(let replacement, let prepend, let split):
      var scalars = piece.text.unicodeScalars.map { $0 == " " ? replacement : $0 }
      let wantsPrefix = prepend == .always || (prepend == .first && piece.startsAtOrigin)
      if wantsPrefix, let first = scalars.first, first != replacement { scalars.insert(replacement, at: 0) }
      guard split else { return [PreToken(text: String(String.UnicodeScalarView(scalars)), startsAtOrigin: piece.startsAtOrigin)] }
      // Each replacement character starts a new piece.
      var pieces: [PreToken] = []
      var start = 0
      for index in scalars.indices where index > start && scalars[index] == replacement {
        pieces.append(PreToken(text: String(String.UnicodeScalarView(scalars[start..<index])), startsAtOrigin: piece.startsAtOrigin && start == 0))
        start = index
      }
      if start < scalars.count {
        pieces.append(PreToken(text: String(String.UnicodeScalarView(scalars[start...])), startsAtOrigin: piece.startsAtOrigin && start == 0))
      }
      return pieces
    case .whitespaceSplit:
      var pieces: [PreToken] = []
      var current = String.UnicodeScalarView()
      var currentStart = 0
      for (index, scalar) in piece.text.unicodeScalars.enumerated() {
        if scalar.properties.isWhitespace {
          if !current.isEmpty { pieces.append(PreToken(text: String(current), startsAtOrigin: piece.startsAtOrigin && currentStart == 0)) }
          current = String.UnicodeScalarView()
          currentStart = index + 1
        } else {
          current.append(scalar)
        }
      }
      if !current.isEmpty { pieces.append(PreToken(text: String(current), startsAtOrigin: piece.startsAtOrigin && currentStart == 0)) }
      return pieces
    case .byteLevel(let addPrefixSpace, let useRegex):
      var text = piece.text
      if addPrefixSpace, !text.isEmpty, text.unicodeScalars.first != " " { text = " " + text }
      let scalars = Array(text.unicodeScalars)
      let ranges = useRegex ? ByteLevelEncoding.gpt2Split(scalars) : (scalars.isEmpty ? [] : [0..<scalars.count])
      return ranges.map { range in
        PreToken(text: ByteLevelEncoding.encode(scalars[range]), startsAtOrigin: piece.startsAtOrigin && range.lowerBound == 0)
      }
    case .sequence:
      return split([piece])
    }
  }
}
