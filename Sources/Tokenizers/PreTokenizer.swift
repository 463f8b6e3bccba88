/// A piece of text on its way to the model, as UTF-8, with whether it begins
/// at the first character of the original input (which `Metaspace`'s "first"
/// prepend scheme asks about).
struct PreToken {
  var utf8: [UInt8]
  var startsAtOrigin: Bool
}

/// When `Metaspace` puts its replacement character in front of a piece.
enum PrependScheme: String, Sendable {
  case always, first, never
}

/// A `tokenizer.json` pre-tokenizer: cuts normalized text into the pieces
/// the model sees one at a time. Works on UTF-8 bytes; every cut falls on a
/// character boundary.
indirect enum PreTokenizer: Sendable {
  case metaspace(replacement: [UInt8], prepend: PrependScheme, split: Bool)
  case whitespaceSplit
  case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
  case sequence([PreTokenizer])

  init(_ field: JSONField) throws {
    let type = try field["type"].string()
    switch type {
    case "Metaspace":
      self = .metaspace(
        replacement: Array(String(try field["replacement"].scalar()).utf8), prepend: try Self.prependScheme(field),
        split: try field["split"].bool(default: true))
    case "WhitespaceSplit":
      self = .whitespaceSplit
    case "ByteLevel":
      self = .byteLevel(
        addPrefixSpace: try field["add_prefix_space"].bool(default: true),
        useRegex: try field["use_regex"].bool(default: true))
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
      var out: [PreToken] = []
      for piece in pieces { split(piece, into: &out) }
      return out
    }
  }

  private func split(_ piece: PreToken, into out: inout [PreToken]) {
    let bytes = piece.utf8
    func emit(_ range: Range<Int>) {
      guard !range.isEmpty else { return }
      out.append(PreToken(utf8: Array(bytes[range]), startsAtOrigin: piece.startsAtOrigin && range.lowerBound == 0))
    }
    switch self {
    case .metaspace(let replacement, let prepend, let split):
      guard !bytes.isEmpty else { return }
      var text: [UInt8] = []
      text.reserveCapacity(bytes.count + 8)
      for byte in bytes {
        if byte == 0x20 { text += replacement } else { text.append(byte) }
      }
      let wantsPrefix = prepend == .always || (prepend == .first && piece.startsAtOrigin)
      if wantsPrefix, !text.starts(with: replacement) { text.insert(contentsOf: replacement, at: 0) }
      guard split else {
        out.append(PreToken(utf8: text, startsAtOrigin: piece.startsAtOrigin))
        return
      }
      // Each replacement character starts a new piece.
      var start = 0
      var index = 1
      while index < text.count {
        if text[index] == replacement[0], text[index...].starts(with: replacement) {
          out.append(PreToken(utf8: Array(text[start..<index]), startsAtOrigin: piece.startsAtOrigin && start == 0))
          start = index
          index += replacement.count
        } else {
          index += 1
        }
      }
      out.append(PreToken(utf8: Array(text[start...]), startsAtOrigin: piece.startsAtOrigin && start == 0))
    case .whitespaceSplit:
      var start = 0
      var index = 0
      while index < bytes.count {
        let (scalar, width) = decodeScalar(bytes, at: index)
        if isWhitespace(scalar) {
          emit(start..<index)
          start = index + width
        }
        index += width
      }
      emit(start..<bytes.count)
    case .byteLevel(let addPrefixSpace, let useRegex):
      var text = bytes
      if addPrefixSpace, let first = text.first, first != 0x20 { text.insert(0x20, at: 0) }
      var scalars: [Unicode.Scalar] = []
      var offsets: [Int] = []
      var index = 0
      while index < text.count {
        let (scalar, width) = decodeScalar(text, at: index)
        scalars.append(scalar)
        offsets.append(index)
        index += width
      }
      offsets.append(text.count)
      let ranges = useRegex ? ByteLevelEncoding.gpt2Split(scalars) : (scalars.isEmpty ? [] : [0..<scalars.count])
      for range in ranges {
        let byteRange = offsets[range.lowerBound]..<offsets[range.upperBound]
        out.append(
          PreToken(
            utf8: ByteLevelEncoding.encode(text[byteRange]),
            startsAtOrigin: piece.startsAtOrigin && range.lowerBound == 0))
      }
    case .sequence:
      out += self.split([piece])
    }
  }
}

/// The scalar starting at `index` of valid UTF-8, and its width in bytes.
@inline(__always)
func decodeScalar(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int) {
  let lead = bytes[index]
  if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
  let width = utf8Length(leadByte: lead)
  var value = UInt32(lead) & (0xFF >> (width + 1))
  for offset in 1..<width where index + offset < bytes.count {
    value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
  }
  return (Unicode.Scalar(value) ?? "\u{FFFD}", width)
}

/// Unicode White_Space, as Rust's `char::is_whitespace`.
@inline(__always)
func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
  if scalar.value < 0x80 { return scalar.value == 0x20 || (0x09...0x0D).contains(scalar.value) }
  return scalar.properties.isWhitespace
}
