import TensorCore

/// Integers to English words and back: `12045` → `twelve thousand forty-five`
/// and `six hundred three` → `603`. The direction is plain from the source
/// (digits or words), so both directions mix in one task by default.
struct NumbersTask: ExampleMaker {
  static let spec = TaskSpec(
    name: "numbers",
    summary: "integers to English words and back (2045 ↔ two thousand forty-five)",
    knobs: [
      TaskKnob(name: "max-digits", summary: "most digits of a number (1...12)", defaultValue: "4"),
      TaskKnob(name: "direction", summary: "both, to-words or to-digits", defaultValue: "both"),
    ],
    defaultSizes: (train: 12_000, valid: 500, test: 1000))

  let maxDigits: Int
  let direction: String

  init(settings: TaskSettings) throws {
    maxDigits = try settings.int("max-digits", in: 1...12)
    direction = try settings.choice("direction", of: ["both", "to-words", "to-digits"])
  }

  func makeExample(using random: inout SeededRandom) -> Example {
    let toWords = direction == "both" ? random.nextInt(below: 2) == 0 : direction == "to-words"
    let value = ArithmeticTask.number(maxDigits: maxDigits, using: &random)
    let digits = String(value)
    let words = EnglishNumbers.words(for: value)
    return toWords ? Example(source: digits, target: words) : Example(source: words, target: digits)
  }
}
