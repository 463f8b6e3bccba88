/// A `tokenizer.json` decoder: turns the token strings of ids back into text.
/// Each step maps a list of strings to a list of strings; the results are
/// concatenated at the end.
indirect enum TokenDecoder: Sendable {
  case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme)
  case byteLevel
  case byteFallback
  case fuse
  case strip(content: Unicode.Scalar, start: Int, stop: Int)
  case replace(TextPattern, content: [Unicode.Scalar])
  case sequence([TokenDecoder])

  init(_ field: JSONField) throws {
    let type = try field["type"].string()
    switch type {
    case "Metaspace":
      self = .metaspace(replacement: try field["replacement"].scalar(), prepend: try PreTokenizer.prependScheme(field))
    case "ByteLevel": self = .byteLevel
    case "ByteFallback": self = .byteFallback
    case "Fuse": self = .fuse
    case "Strip":
      self = .strip(
        content: try field["content"].scalar(), start: try field["start"].int(), stop: try field["stop"].int())
    case "Replace":
      self = .replace(try TextPattern(field["pattern"]), content: Array(try field["content"].string().unicodeScalars))
    case "Sequence":
      self = .sequence(try field["decoders"].array().map(TokenDecoder.init))
    default:
      throw field["type"].error("unsupported decoder type \"\(type)\"")
    }
  }

  func decode(_ tokens: [String]) -> [String] {
    switch self {
    case .metaspace(let replacement, let prepend):
      // The first token's markers are the prepended space: dropped.
      return tokens.enumerated().map { index, token in
        var out = String.UnicodeScalarView()
        for scalar in token.unicodeScalars {
          if scalar != replacement {
            out.append(scalar)
          } else if index > 0 || prepend == .never {
            out.append(" ")
          }
        }
        return String(out)
      }
    case .byteLevel:
      var bytes: [UInt8] = []
      for token in tokens {
        let mapped = token.unicodeScalars.map(ByteLevelEncoding.byte(for:))
        // A token with any character outside the byte alphabet is kept as it is.
        if mapped.allSatisfy({ $0 != nil }) {
          bytes += mapped.map { $0! }
        } else {
          bytes += token.utf8
        }
      }
      return [String(decoding: bytes, as: UTF8.self)]
    case .byteFallback:
      var out: [String] = []
      var pending: [UInt8] = []
      func flush() {
        guard !pending.isEmpty else { return }
        if let text = String(validatingUTF8Bytes: pending) {
          out.append(text)
        } else {
          out += Array(repeating: "\u{FFFD}", count: pending.count)
        }
        pending.removeAll()
      }
      for token in tokens {
        if let byte = Self.fallbackByte(token) {
          pending.append(byte)
        } else {
          flush()
          out.append(token)
        }
      }
      flush()
      return out
    case .fuse:
      return [tokens.joined()]
    case .strip(let content, let start, let stop):
      return tokens.map { token in
        var scalars = Array(token.unicodeScalars)
        var cut = 0
        while cut < min(start, scalars.count), scalars[cut] == content { cut += 1 }
        scalars.removeFirst(cut)
        var tail = 0
        while tail < min(stop, scalars.count), scalars[scalars.count - 1 - tail] == content { tail += 1 }
        scalars.removeLast(tail)
        return String(String.UnicodeScalarView(scalars))
      }
    case .replace(let pattern, let content):
      return tokens.map { token in
        guard pattern.mayMatch(token) else { return token }
        return String(
          String.UnicodeScalarView(pattern.replacingMatches(in: Array(token.unicodeScalars), with: content).scalars))
      }
    case .sequence(let steps):
      return steps.reduce(tokens) { $1.decode($0) }
    }
  }

  /// The byte of a `<0xAB>` token (six bytes long, two hex digits).
  private static func fallbackByte(_ token: String) -> UInt8? {
    let utf8 = token.utf8
    guard utf8.count == 6, utf8.starts(with: "<0x".utf8), utf8.last == UInt8(ascii: ">") else { return nil }
    return UInt8(String(decoding: utf8.dropFirst(3).prefix(2), as: UTF8.self), radix: 16)
  }
}
