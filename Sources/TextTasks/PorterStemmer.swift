/// The Porter stemmer as NLTK's `PorterStemmer()` runs it by default (mode
/// `NLTK_EXTENSIONS`), which is what `rouge-score` uses when stemming: the 1980
/// algorithm plus Martin Porter's later fixes and NLTK's own (irregular forms,
/// `ies`/`ied` on four-letter words, `y → i` only after a consonant, `alli`,
/// `fulli`, `logi`, `bli`). Works on lowercase ASCII bytes.
enum PorterStemmer {
  private static let irregular: [String: String] = [
    "sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
    "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
    "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
    "exceed": "exceed", "succeed": "succeed",
  ]

  static func stem(_ word: String) -> String {
    if let form = irregular[word] { return form }
    var w = Array(word.utf8)
    guard w.count > 2 else { return word }
    w = step1a(w)
    w = step1b(w)
    w = step1c(w)
    w = step2(w)
    w = step3(w)
    w = step4(w)
    w = step5a(w)
    w = step5b(w)
    return String(decoding: w, as: UTF8.self)
  }

  // MARK: Letter classes and measure

  private static func isVowelLetter(_ c: UInt8) -> Bool { c == 0x61 || c == 0x65 || c == 0x69 || c == 0x6F || c == 0x75 }

  /// Per position: consonant? A `y` is a consonant at the start or after a vowel.
  private static func consonantFlags(_ w: ArraySlice<UInt8>) -> [Bool] {
    var flags: [Bool] = []
    flags.reserveCapacity(w.count)
    for c in w {
      if isVowelLetter(c) {
        flags.append(false)
      } else if c == 0x79 {  // y
        flags.append(flags.last.map { !$0 } ?? true)
      } else {
        flags.append(true)
      }
    }
    return flags
  }

  private static func isConsonant(_ w: ArraySlice<UInt8>, _ i: Int) -> Bool { consonantFlags(w)[i - w.startIndex] }

  /// m in [C](VC){m}[V]: the number of vowel→consonant transitions.
  private static func measure(_ w: ArraySlice<UInt8>) -> Int {
    let flags = consonantFlags(w)
    var m = 0
    for i in flags.indices.dropFirst() where !flags[i - 1] && flags[i] { m += 1 }
    return m
  }

  private static func containsVowel(_ w: ArraySlice<UInt8>) -> Bool { consonantFlags(w).contains(false) }

  private static func endsDoubleConsonant(_ w: ArraySlice<UInt8>) -> Bool {
    w.count >= 2 && w[w.endIndex - 1] == w[w.endIndex - 2] && isConsonant(w, w.endIndex - 1)
  }

  /// *o: ends consonant-vowel-consonant, the last not w, x or y; NLTK also
  /// accepts a two-letter vowel-consonant word.
  private static func endsCVC(_ w: ArraySlice<UInt8>) -> Bool {
    let n = w.count
    let flags = consonantFlags(w)
    if n >= 3 && flags[n - 3] && !flags[n - 2] && flags[n - 1] {
      let last = w[w.endIndex - 1]
      if last != 0x77 && last != 0x78 && last != 0x79 { return true }
    }
    return n == 2 && !flags[0] && flags[1]
  }

  // MARK: Rules

  /// A suffix rule: `suffix` → `replacement` when `condition(stem)` holds.
  private struct Rule {
    let suffix: [UInt8]
    let replacement: [UInt8]
    let condition: ((ArraySlice<UInt8>) -> Bool)?

    init(_ suffix: String, _ replacement: String, _ condition: ((ArraySlice<UInt8>) -> Bool)?) {
      self.suffix = Array(suffix.utf8)
      self.replacement = Array(replacement.utf8)
      self.condition = condition
    }
  }

  private static func endsWith(_ w: [UInt8], _ suffix: [UInt8]) -> Bool {
    w.count >= suffix.count && w[(w.count - suffix.count)...].elementsEqual(suffix)
  }

  private static func endsWith(_ w: [UInt8], _ suffix: String) -> Bool { endsWith(w, Array(suffix.utf8)) }

  /// The first rule whose suffix matches decides: applied if its condition
  /// holds, otherwise the word is left alone.
  private static func applyFirst(_ w: [UInt8], _ rules: [Rule]) -> [UInt8] {
    for rule in rules where endsWith(w, rule.suffix) {
      let stem = w[..<(w.count - rule.suffix.count)]
      if rule.condition?(stem) ?? true { return Array(stem) + rule.replacement }
      return w
    }
    return w
  }

  private static func positiveMeasure(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 0 }
  private static func measureAboveOne(_ stem: ArraySlice<UInt8>) -> Bool { measure(stem) > 1 }

  private static func step1a(_ w: [UInt8]) -> [UInt8] {
    if w.count == 4 && endsWith(w, "ies") { return Array(w.prefix(1)) + Array("ie".utf8) }
    return applyFirst(w, [Rule("sses", "ss", nil), Rule("ies", "i", nil), Rule("ss", "ss", nil), Rule("s", "", nil)])
  }

  private static func step1b(_ w: [UInt8]) -> [UInt8] {
    if endsWith(w, "ied") {
      return Array(w.dropLast(3)) + Array((w.count == 4 ? "ie" : "i").utf8)
    }
    if endsWith(w, "eed") {
      let stem = w.dropLast(3)
      return measure(stem) > 0 ? Array(stem) + Array("ee".utf8) : w
    }
    var stem: [UInt8]?
    for suffix in ["ed", "ing"] where endsWith(w, suffix) {
      let candidate = w.dropLast(suffix.utf8.count)
      if containsVowel(candidate) {
        stem = Array(candidate)
        break
      }
    }
    guard let stem else { return w }
    for (suffix, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] where endsWith(stem, suffix) {
      return Array(stem.dropLast(2)) + Array(replacement.utf8)
    }
    if endsDoubleConsonant(stem[...]) {
      let last = stem[stem.count - 1]
      return last == 0x6C || last == 0x73 || last == 0x7A ? stem : Array(stem.dropLast())  // l, s, z stay double
    }
    if measure(stem[...]) == 1 && endsCVC(stem[...]) { return stem + [0x65] }
    return stem
  }

  private static func step1c(_ w: [UInt8]) -> [UInt8] {
    applyFirst(w, [Rule("y", "i", { $0.count > 1 && isConsonant($0, $0.endIndex - 1) })])
  }

  private static func step2(_ w: [UInt8]) -> [UInt8] {
    if endsWith(w, "alli") && measure(w.dropLast(4)) > 0 {
      return step2(Array(w.dropLast(4)) + Array("al".utf8))
    }
    let rules = [
      Rule("ational", "ate", positiveMeasure), Rule("tional", "tion", positiveMeasure),
      Rule("enci", "ence", positiveMeasure), Rule("anci", "ance", positiveMeasure),
      Rule("izer", "ize", positiveMeasure), Rule("bli", "ble", positiveMeasure),
      Rule("alli", "al", positiveMeasure), Rule("entli", "ent", positiveMeasure),
      Rule("eli", "e", positiveMeasure), Rule("ousli", "ous", positiveMeasure),
      Rule("ization", "ize", positiveMeasure), Rule("ation", "ate", positiveMeasure),
      Rule("ator", "ate", positiveMeasure), Rule("alism", "al", positiveMeasure),
      Rule("iveness", "ive", positiveMeasure), Rule("fulness", "ful", positiveMeasure),
      Rule("ousness", "ous", positiveMeasure), Rule("aliti", "al", positiveMeasure),
      Rule("iviti", "ive", positiveMeasure), Rule("biliti", "ble", positiveMeasure),
      Rule("fulli", "ful", positiveMeasure),
      // NLTK checks the measure of the word minus "ogi", i.e. the stem plus its "l".
      Rule("logi", "log", { _ in measure(w.dropLast(3)) > 0 }),
    ]
    return applyFirst(w, rules)
  }

  private static func step3(_ w: [UInt8]) -> [UInt8] {
    applyFirst(w, [
      Rule("icate", "ic", positiveMeasure), Rule("ative", "", positiveMeasure), Rule("alize", "al", positiveMeasure),
      Rule("iciti", "ic", positiveMeasure), Rule("ical", "ic", positiveMeasure), Rule("ful", "", positiveMeasure),
      Rule("ness", "", positiveMeasure),
    ])
  }

  private static func step4(_ w: [UInt8]) -> [UInt8] {
    let ionCondition: (ArraySlice<UInt8>) -> Bool = { stem in
      measure(stem) > 1 && (stem.last == 0x73 || stem.last == 0x74)  // s or t
    }
    return applyFirst(w, [
      Rule("al", "", measureAboveOne), Rule("ance", "", measureAboveOne), Rule("ence", "", measureAboveOne),
      Rule("er", "", measureAboveOne), Rule("ic", "", measureAboveOne), Rule("able", "", measureAboveOne),
      Rule("ible", "", measureAboveOne), Rule("ant", "", measureAboveOne), Rule("ement", "", measureAboveOne),
      Rule("ment", "", measureAboveOne), Rule("ent", "", measureAboveOne), Rule("ion", "", ionCondition),
      Rule("ou", "", measureAboveOne), Rule("ism", "", measureAboveOne), Rule("ate", "", measureAboveOne),
      Rule("iti", "", measureAboveOne), Rule("ous", "", measureAboveOne), Rule("ive", "", measureAboveOne),
      Rule("ize", "", measureAboveOne),
    ])
  }

  private static func step5a(_ w: [UInt8]) -> [UInt8] {
    guard w.last == 0x65 else { return w }  // e
    let stem = w.dropLast()
    let m = measure(stem)
    return m > 1 || (m == 1 && !endsCVC(stem)) ? Array(stem) : w
  }

  private static func step5b(_ w: [UInt8]) -> [UInt8] {
    applyFirst(w, [Rule("ll", "l", { _ in measure(w.dropLast()) > 1 })])
  }
}
