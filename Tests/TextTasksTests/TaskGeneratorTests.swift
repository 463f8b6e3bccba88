import XCTest

import TensorCore
@testable import TextTasks

final class TaskGeneratorTests: XCTestCase {
  func testSameSeedGivesByteIdenticalFilesAndOtherSeedsDiffer() throws {
    let folder = try temporaryFolder()
    for name in BuiltinTask.names {
      let task = try BuiltinTask.named(name)
      func write(seed: UInt64, _ file: String) throws -> Data {
        let splits = try task.makeSplits(train: 120, valid: 20, test: 30, seed: seed)
        let url = folder.appendingPathComponent(file)
        try DataFileWriter.writeJSONL(splits.train + splits.valid + splits.test, to: url)
        return try Data(contentsOf: url)
      }
      let first = try write(seed: 7, "\(name)-a.jsonl")
      let second = try write(seed: 7, "\(name)-b.jsonl")
      let other = try write(seed: 8, "\(name)-c.jsonl")
      XCTAssertEqual(first, second, name)
      XCTAssertNotEqual(first, other, name)
    }
  }

  func testSplitsNeverShareASourceEvenAcrossSeeds() throws {
    for name in BuiltinTask.names {
      let task = try BuiltinTask.named(name)
      let splits = try task.makeSplits(train: 300, valid: 60, test: 60, seed: 1)
      let train = Set(splits.train.map(\.source))
      let valid = Set(splits.valid.map(\.source))
      let test = Set(splits.test.map(\.source))
      XCTAssertEqual(train.count, 300, "\(name): train sources are distinct")
      XCTAssertEqual(valid.count, 60, name)
      XCTAssertEqual(test.count, 60, name)
      XCTAssertTrue(train.isDisjoint(with: valid) && train.isDisjoint(with: test) && valid.isDisjoint(with: test), name)
      // Another seed's test set never meets this seed's training set.
      let otherTest = Set(try task.examples(split: .test, count: 60, seed: 99).map(\.source))
      XCTAssertTrue(train.isDisjoint(with: otherTest), name)
      for split in TaskSplit.allCases {
        XCTAssertTrue(splits[split].allSatisfy { BuiltinTask.split(ofSource: $0.source) == split }, name)
      }
    }
  }

  func testAskingForMoreKeepsTheFirstExamples() throws {
    let task = try BuiltinTask.named("arithmetic")
    let short = try task.examples(split: .test, count: 40, seed: 3)
    let long = try task.examples(split: .test, count: 90, seed: 3)
    XCTAssertEqual(Array(long.prefix(40)), short)
  }

  func testDefaultTargetsStayShortAndSpecSizesAreReachable() throws {
    for spec in BuiltinTask.specs {
      let task = try BuiltinTask.named(spec.name)
      var random = SeededRandom(seed: 11)
      let samples = (0..<3000).map { _ in task.randomExample(using: &random) }
      let longestTarget = samples.map(\.target.utf8.count).max()!
      let longestSource = samples.map(\.source.utf8.count).max()!
      XCTAssertLessThanOrEqual(longestTarget, 47, spec.name)
      XCTAssertLessThanOrEqual(longestSource, 60, spec.name)
      let sizes = spec.defaultSizes
      XCTAssertNoThrow(try task.makeSplits(train: sizes.train, valid: sizes.valid, test: sizes.test, seed: 5), spec.name)
    }
  }

  func testArithmeticAnswersAreCorrect() throws {
    let task = try BuiltinTask.named("arithmetic")
    var random = SeededRandom(seed: 5)
    var seenOperations = Set<String>()
    for _ in 0..<3000 {
      let example = task.randomExample(using: &random)
      let parts = example.source.split(separator: " ").map(String.init)
      XCTAssertEqual(parts.count, 3, example.source)
      let (a, op, b) = (Int(parts[0])!, parts[1], Int(parts[2])!)
      XCTAssertLessThanOrEqual(parts[0].count, 4)
      XCTAssertLessThanOrEqual(parts[2].count, op == "*" ? 2 : 4)
      let expected = op == "+" ? a + b : op == "-" ? a - b : a * b
      XCTAssertEqual(example.target, String(expected), example.source)
      seenOperations.insert(op)
    }
    XCTAssertEqual(seenOperations, ["+", "-", "*"])

    let additions = try BuiltinTask.named("arithmetic", settings: ["operations": "+", "max-digits": "2"])
    for _ in 0..<200 {
      let example = additions.randomExample(using: &random)
      XCTAssertTrue(example.source.contains(" + "), example.source)
      XCTAssertLessThanOrEqual(Int(example.target)!, 198)
    }
  }

  func testScanOutputsFollowTheGrammar() throws {
    XCTAssertEqual(ScanTask.enumerate(conjunctions: true).count, 20_910, "the SCAN command space")
    XCTAssertEqual(try BuiltinTask.named("scan").examples(split: .test, count: 0, seed: 0), [])
    let task = try BuiltinTask.named("scan")
    var random = SeededRandom(seed: 9)
    var words = Set<Substring>()
    for _ in 0..<2000 {
      let example = task.randomExample(using: &random)
      XCTAssertEqual(example.target, interpretScan(example.source), example.source)
      XCTAssertLessThanOrEqual(example.target.split(separator: " ").count, 8)
      words.formUnion(example.source.split(separator: " "))
    }
    XCTAssertEqual(words, ["walk", "look", "run", "jump", "turn", "left", "right", "opposite", "around", "twice", "thrice", "and", "after"])
    XCTAssertEqual(interpretScan("jump twice and walk left"), "JUMP JUMP LTURN WALK")
    XCTAssertEqual(interpretScan("turn around right after look opposite left"), "LTURN LTURN LOOK RTURN RTURN RTURN RTURN")
    let simple = try BuiltinTask.named("scan", settings: ["conjunctions": "no", "max-actions": "48"])
    XCTAssertTrue((0..<200).allSatisfy { _ in
      let source = simple.randomExample(using: &random).source
      return !source.contains(" and ") && !source.contains(" after ")
    })
  }

  func testNumbersRoundTrip() throws {
    XCTAssertEqual(EnglishNumbers.words(for: 0), "zero")
    XCTAssertEqual(EnglishNumbers.words(for: 15), "fifteen")
    XCTAssertEqual(EnglishNumbers.words(for: 40), "forty")
    XCTAssertEqual(EnglishNumbers.words(for: 101), "one hundred one")
    XCTAssertEqual(EnglishNumbers.words(for: 12_045), "twelve thousand forty-five")
    XCTAssertEqual(EnglishNumbers.words(for: 7_000_300), "seven million three hundred")
    XCTAssertEqual(EnglishNumbers.words(for: -92), "minus ninety-two")
    for value in stride(from: 0, through: 1_000_000, by: 37) {
      XCTAssertEqual(EnglishNumbers.value(of: EnglishNumbers.words(for: value)), value)
    }
    XCTAssertEqual(EnglishNumbers.value(of: EnglishNumbers.words(for: 999_999_999_999)), 999_999_999_999)
    for bad in ["", "five five", "twenty hundred", "thousand", "one thousand one million", "fourty", "ninety-ten", "minus zero"] {
      XCTAssertNil(EnglishNumbers.value(of: bad), bad)
    }
    let task = try BuiltinTask.named("numbers")
    var random = SeededRandom(seed: 2)
    var directions = Set<Bool>()
    for _ in 0..<2000 {
      let example = task.randomExample(using: &random)
      let toWords = Int(example.source) != nil
      directions.insert(toWords)
      let (digits, words) = toWords ? (example.source, example.target) : (example.target, example.source)
      XCTAssertEqual(EnglishNumbers.value(of: words), Int(digits), "\(example)")
      XCTAssertLessThanOrEqual(digits.count, 4)
    }
    XCTAssertEqual(directions, [true, false])
  }

  func testDatesAreValidAndAgreeWithFoundationsCalendar() throws {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let task = try BuiltinTask.named("dates")
    var random = SeededRandom(seed: 4)
    var formats = Set<String>()
    for _ in 0..<3000 {
      let example = task.randomExample(using: &random)
      let parts = example.target.split(separator: "-").compactMap { Int($0) }
      XCTAssertEqual(parts.count, 3, example.target)
      XCTAssertEqual(example.target.count, 10, example.target)
      let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
      XCTAssertTrue(components.isValidDate(in: calendar), example.target)
      XCTAssertTrue((1900...2099).contains(parts[0]))
      let date = calendar.date(from: components)!
      XCTAssertEqual(calendar.component(.day, from: date), parts[2], example.target)
      // The source names the same year, month and weekday.
      XCTAssertTrue(example.source.contains(String(parts[0])), "\(example)")
      let month = DatesTask.months[parts[1] - 1]
      if let named = DatesTask.months.first(where: { example.source.lowercased().contains($0.prefix(3).lowercased()) }) {
        XCTAssertEqual(named, month, "\(example)")
      }
      let weekday = DatesTask.weekdays[calendar.component(.weekday, from: date) - 1]
      if let named = DatesTask.weekdays.first(where: { example.source.contains($0.prefix(3)) }) {
        XCTAssertEqual(named, weekday, "\(example)")
      }
      formats.insert(example.source.replacingOccurrences(of: "[0-9]", with: "9", options: .regularExpression)
        .replacingOccurrences(of: "[A-Za-z]+", with: "A", options: .regularExpression))
    }
    XCTAssertGreaterThanOrEqual(formats.count, 12, "\(formats.sorted())")
    let fixed = CivilDate(year: 2021, month: 3, day: 5)
    XCTAssertEqual(DatesTask.write(fixed, format: 8), "the 5th of March 2021")
    XCTAssertEqual(DatesTask.write(fixed, format: 10), "Fri 5 Mar 2021")
    XCTAssertEqual(CivilDate(daysSinceEpoch: fixed.daysSinceEpoch), fixed)
    XCTAssertEqual(CivilDate(year: 2000, month: 2, day: 29).daysSinceEpoch + 1, CivilDate(year: 2000, month: 3, day: 1).daysSinceEpoch)
  }

  func testSettingMistakesAreErrors() {
    XCTAssertThrowsError(try BuiltinTask.named("poetry")) { error in
      XCTAssertTrue("\(error)".contains("scan, arithmetic, numbers, dates"), "\(error)")
    }
    XCTAssertThrowsError(try BuiltinTask.named("arithmetic", settings: ["digits": "3"])) { error in
      XCTAssertTrue("\(error)".contains("max-digits"), "\(error)")
    }
    XCTAssertThrowsError(try BuiltinTask.named("arithmetic", settings: ["max-digits": "12"]))
    XCTAssertThrowsError(try BuiltinTask.named("arithmetic", settings: ["operations": "/"]))
    XCTAssertThrowsError(try BuiltinTask.named("dates", settings: ["min-year": "2000", "max-year": "1999"]))
    XCTAssertThrowsError(try BuiltinTask.named("numbers", settings: ["direction": "sideways"]))
    XCTAssertEqual(try BuiltinTask.parseSettings("max-digits=3, operations=+-"), ["max-digits": "3", "operations": "+-"])
    XCTAssertThrowsError(try BuiltinTask.parseSettings("max-digits"))
    let tiny = try! BuiltinTask.named("arithmetic", settings: ["max-digits": "1", "operations": "+"])
    XCTAssertThrowsError(try tiny.examples(split: .test, count: 60, seed: 0)) { error in
      guard case TaskError.notEnoughExamples(_, .test, 60, let found) = error else { return XCTFail("\(error)") }
      XCTAssertLessThan(found, 60)
    }
  }

  /// An independent SCAN interpreter: parses the command word by word.
  private func interpretScan(_ command: String) -> String {
    var words = command.split(separator: " ").map(String.init)
    for (conjunction, swapped) in [("and", false), ("after", true)] {
      if let index = words.firstIndex(of: conjunction) {
        let first = interpretScan(words[..<index].joined(separator: " "))
        let second = interpretScan(words[(index + 1)...].joined(separator: " "))
        return swapped ? second + " " + first : first + " " + second
      }
    }
    var repeats = 1
    if words.last == "twice" { repeats = 2 }
    if words.last == "thrice" { repeats = 3 }
    if repeats > 1 { words.removeLast() }
    let verb = ["walk": "WALK", "look": "LOOK", "run": "RUN", "jump": "JUMP", "turn": ""][words[0]]!
    var actions: [String]
    switch words.count {
    case 1: actions = [verb]
    case 2: actions = [words[1] == "left" ? "LTURN" : "RTURN", verb]
    default:
      let turn = words[2] == "left" ? "LTURN" : "RTURN"
      actions = words[1] == "opposite" ? [turn, turn, verb] : Array(repeating: [turn, verb], count: 4).flatMap { $0 }
    }
    let once = actions.filter { !$0.isEmpty }
    return Array(repeating: once, count: repeats).flatMap { $0 }.joined(separator: " ")
  }
}

/// A fresh temporary folder for one test.
func temporaryFolder() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("texttasks-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}
