/// GPT-2's reversible map between bytes and printable characters, used by
/// byte-level BPE (BART, RoBERTa, GPT-2), and GPT-2's word-splitting rule.
enum ByteLevelEncoding {
  /// `byteToScalar[b]` is the character that stands for byte `b`: printable
  /// Latin-1 bytes stand for themselves, the other 68 take U+0100 onwards.
  static let byteToScalar: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
      if printable {
        table[byte] = Unicode.Scalar(UInt32(byte))!
      } else {
        table[byte] = Unicode.Scalar(next)!
        next += 1
      }
    }
    return table
  }()

  /// The inverse of `byteToScalar`, indexed by scalar value (all are < 324).
  static let scalarToByte: [Int16] = {
    var table = [Int16](repeating: -1, count: 324)
    for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(byte) }
    return table
  }()

  /// UTF-8 bytes spelled with the byte characters, as UTF-8 again.
  static func encode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes { out += byteToUTF8[Int(byte)] }
    return out
  }

  /// The UTF-8 of each byte character.
  private static let byteToUTF8: [[UInt8]] = byteToScalar.map { Array(String($0).utf8) }

  /// The byte a character stands for, or `nil` for other characters.
  static func byte(for scalar: Unicode.Scalar) -> UInt8? {
    let value = Int(scalar.value)
    guard value < scalarToByte.count, scalarToByte[value] >= 0 else { return nil }
    return UInt8(scalarToByte[value])
  }

  /// Splits `scalars` as GPT-2's pattern
  /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
  /// does, written out by hand (the look-ahead is not portable across regex
  /// engines). Returns the ranges of the pieces, which cover the input.
  static func gpt2Split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
    var pieces: [Range<Int>] = []
    var start = 0
    let count = scalars.count
    let kinds = scalars.map(CharacterKind.init)
    func run(from index: Int, of kind: CharacterKind) -> Int {
      var end = index
      while end < count, kinds[end] == kind { end += 1 }
      return end
    }
    while start < count {
      pieces.append(start..<matchEnd(at: start))
      start = pieces[pieces.count - 1].upperBound
    }
    return pieces

    func matchEnd(at index: Int) -> Int {
      if scalars[index] == "'", let end = contractionEnd(after: index) { return end }
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one kind.
      let body = scalars[index] == " " && index + 1 < count ? index + 1 : index
      if kinds[body] != .space { return run(from: body, of: kinds[body]) }
      // `\s+(?!\S)`: the whitespace run, less its last character when text follows.
      let spaceEnd = run(from: index, of: .space)
      if spaceEnd == count || spaceEnd - index == 1 { return spaceEnd }
      return spaceEnd - 1
    }

    func contractionEnd(after quote: Int) -> Int? {
      guard quote + 1 < count else { return nil }
      switch scalars[quote + 1] {
      case "s", "t", "m", "d": return quote + 2
      case "r", "v", "l":
        let second: Unicode.Scalar = scalars[quote + 1] == "l" ? "l" : "e"
        return quote + 2 < count && scalars[quote + 2] == second ? quote + 3 : nil
      default: return nil
      }
    }
  }

  /// The classes GPT-2's pattern distinguishes.
  enum CharacterKind: Equatable {
    case letter, number, space, other

    init(_ scalar: Unicode.Scalar) {
      if scalar.isASCII {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A: self = .letter
        case 0x30...0x39: self = .number
        case 0x09...0x0D, 0x20: self = .space
        default: self = .other
        }
        return
      }
      let properties = scalar.properties
      if properties.isWhitespace {
        self = .space
        return
      }
      switch properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
        self = .letter
      case .decimalNumber, .letterNumber, .otherNumber:
        self = .number
      default:
        self = .other
      }
    }
  }
}
