import TensorCore

/// Integer arithmetic written out: `4821 + 937` → `5758`, `57 - 3120` → `-3063`,
/// `4821 * 37` → `178377`.
///
/// Each operand first draws its digit count uniformly, then its value, so short
/// numbers are as common as long ones. Multiplication keeps the second factor
/// shorter (`multiplier-digits`), because long multiplication is far harder for
/// a small model than addition and would otherwise dominate the error.
struct ArithmeticTask: ExampleMaker {
  static let spec = TaskSpec(
    name: "arithmetic",
    summary: "integer addition, subtraction and multiplication (4821 * 37 → 178377)",
    knobs: [
      TaskKnob(name: "max-digits", summary: "most digits of an operand (1...9)", defaultValue: "4"),
      TaskKnob(name: "multiplier-digits", summary: "most digits of the second factor of '*' (1...9)", defaultValue: "2"),
      TaskKnob(name: "operations", summary: "the operators to draw from, any of + - * (e.g. +-)", defaultValue: "+-*"),
    ],
    defaultSizes: (train: 20_000, valid: 500, test: 1000))

  let maxDigits: Int
  let multiplierDigits: Int
  let operations: [Character]

  init(settings: TaskSettings) throws {
    maxDigits = try settings.int("max-digits", in: 1...9)
    multiplierDigits = try settings.int("multiplier-digits", in: 1...9)
    let text = settings.string("operations")
    var operations: [Character] = []
    for symbol in text where !operations.contains(symbol) { operations.append(symbol) }
    guard !operations.isEmpty, operations.allSatisfy({ "+-*".contains($0) }) else {
      throw TaskError.badSetting(task: "arithmetic", key: "operations", value: text, expected: "some of the characters + - *")
    }
    self.operations = operations
  }

  func makeExample(using random: inout SeededRandom) -> Example {
    let operation = random.pick(operations)
    let left = ArithmeticTask.number(maxDigits: maxDigits, using: &random)
    let right = ArithmeticTask.number(maxDigits: operation == "*" ? multiplierDigits : maxDigits, using: &random)
    let value: Int
    switch operation {
    case "+": value = left + right
    case "-": value = left - right
    default: value = left * right
    }
    return Example(source: "\(left) \(operation) \(right)", target: String(value))
  }

  /// A number whose digit count is uniform in `1...maxDigits`.
  static func number(maxDigits: Int, using random: inout SeededRandom) -> Int {
    let digits = random.nextInt(in: 1...maxDigits)
    var low = 1
    for _ in 1..<digits { low *= 10 }
    return digits == 1 ? random.nextInt(in: 0...9) : random.nextInt(in: low...(low * 10 - 1))
  }
}
