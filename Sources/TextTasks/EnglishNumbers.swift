/// Integers as American English words: `12045` ↔ `twelve thousand forty-five`.
/// No "and", hyphens between tens and units (`forty-two`), short scale
/// (thousand, million, billion, trillion), negatives as `minus …`.
public enum EnglishNumbers {
  static let units = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
  ]
  static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
  static let scales = [(1_000_000_000_000, "trillion"), (1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")]

  /// The words for `value`; `|value|` must be below 10^15.
  public static func words(for value: Int) -> String {
    precondition(abs(value) < 1_000_000_000_000_000, "EnglishNumbers supports |value| < 10^15")
    if value == 0 { return "zero" }
    if value < 0 { return "minus " + words(for: -value) }
    var parts: [String] = []
    var rest = value
    for (size, name) in scales where rest >= size {
      parts.append(belowThousand(rest / size) + " " + name)
      rest %= size
    }
    if rest > 0 { parts.append(belowThousand(rest)) }
    return parts.joined(separator: " ")
  }

  private static func belowThousand(_ value: Int) -> String {
    var parts: [String] = []
    if value >= 100 { parts.append(units[value / 100] + " hundred") }
    let small = value % 100
    if small >= 20 {
      parts.append(small % 10 == 0 ? tens[small / 10] : tens[small / 10] + "-" + units[small % 10])
    } else if small > 0 {
      parts.append(units[small])
    }
    return parts.joined(separator: " ")
  }

  /// The value of number words, or nil when they are not a number this
  /// writer could have produced (unknown word, misplaced scale, …).
  public static func value(of text: String) -> Int? {
    var words = text.split(separator: " ").map(String.init)
    var sign = 1
    if words.first == "minus" {
      sign = -1
      words.removeFirst()
    }
    if words == ["zero"] { return sign == 1 ? 0 : nil }
    guard !words.isEmpty else { return nil }
    var total = 0
    var group = 0  // the current group below a thousand
    var lastScale = Int.max
    for word in words {
      if word == "hundred" {
        guard group >= 1, group <= 9 else { return nil }
        group *= 100
      } else if let scale = scales.first(where: { $0.1 == word })?.0 {
        guard group > 0, scale < lastScale else { return nil }
        total += group * scale
        group = 0
        lastScale = scale
      } else if let small = smallValue(word) {
        // Units or tens may only follow a hundred (or start the group).
        guard group % 100 == 0 else { return nil }
        group += small
      } else {
        return nil
      }
    }
    return sign * (total + group)
  }

  /// 1...99 from `seven`, `seventeen`, `seventy` or `seventy-seven`.
  private static func smallValue(_ word: String) -> Int? {
    let pieces = word.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
    if pieces.count == 1 {
      if let unit = units.firstIndex(of: word), unit > 0 { return unit }
      if let ten = tens.firstIndex(of: word), ten >= 2 { return ten * 10 }
      return nil
    }
    guard pieces.count == 2, let ten = tens.firstIndex(of: pieces[0]), ten >= 2,
      let unit = units.firstIndex(of: pieces[1]), (1...9).contains(unit)
    else { return nil }
    return ten * 10 + unit
  }
}
