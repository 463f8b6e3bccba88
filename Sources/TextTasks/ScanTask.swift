import TensorCore

/// SCAN (Lake & Baroni, 2018): navigation commands to action sequences.
///
/// Grammar: `C → S | S and S | S after S`; `S → V | V twice | V thrice`;
/// `V → U | D | U opposite DIR | turn opposite DIR | U around DIR | turn around DIR`;
/// `D → U DIR | turn DIR`; `U → walk | look | run | jump`; `DIR → left | right`.
/// Actions use the short names `WALK LOOK RUN JUMP LTURN RTURN`:
/// `jump twice and walk left` → `JUMP JUMP LTURN WALK`;
/// `x after y` runs `y` first; `U opposite left` → `LTURN LTURN U`;
/// `U around left` → `LTURN U` four times; `turn around left` → `LTURN` ×4.
///
/// All 20,910 commands are enumerated once and the task draws uniformly among
/// those with at most `max-actions` actions (default 8: 6,268 commands, targets
/// of at most 47 bytes).
struct ScanTask: ExampleMaker {
  static let spec = TaskSpec(
    name: "scan",
    summary: "SCAN navigation commands to action sequences (jump twice and walk left → JUMP JUMP LTURN WALK)",
    knobs: [
      TaskKnob(name: "max-actions", summary: "longest action sequence kept (1...48)", defaultValue: "8"),
      TaskKnob(name: "conjunctions", summary: "'yes' allows 'and'/'after' commands, 'no' only single phrases", defaultValue: "yes"),
    ],
    defaultSizes: (train: 4000, valid: 300, test: 500))

  /// Every allowed command with its action sequence.
  let commands: [Example]

  init(settings: TaskSettings) throws {
    let maxActions = try settings.int("max-actions", in: 1...48)
    let conjunctions = try settings.choice("conjunctions", of: ["yes", "no"]) == "yes"
    commands = ScanTask.enumerate(conjunctions: conjunctions).compactMap { command, actions in
      actions.count <= maxActions ? Example(source: command, target: actions.joined(separator: " ")) : nil
    }
  }

  func makeExample(using random: inout SeededRandom) -> Example {
    random.pick(commands)
  }

  static let primitives = [("walk", "WALK"), ("look", "LOOK"), ("run", "RUN"), ("jump", "JUMP")]
  static let directions = [("left", "LTURN"), ("right", "RTURN")]

  /// All commands of the grammar with their meanings, in a fixed order.
  static func enumerate(conjunctions: Bool) -> [(String, [String])] {
    var phrases: [(String, [String])] = primitives.map { ($0.0, [$0.1]) }
    for (direction, turn) in directions {
      phrases.append(("turn \(direction)", [turn]))
      phrases.append(("turn opposite \(direction)", [turn, turn]))
      phrases.append(("turn around \(direction)", Array(repeating: turn, count: 4)))
      for (verb, action) in primitives {
        phrases.append(("\(verb) \(direction)", [turn, action]))
        phrases.append(("\(verb) opposite \(direction)", [turn, turn, action]))
        phrases.append(("\(verb) around \(direction)", Array(repeating: [turn, action], count: 4).flatMap { $0 }))
      }
    }
    var sentences: [(String, [String])] = []
    for (phrase, actions) in phrases {
      sentences.append((phrase, actions))
      sentences.append(("\(phrase) twice", actions + actions))
      sentences.append(("\(phrase) thrice", actions + actions + actions))
    }
    guard conjunctions else { return sentences }
    var commands = sentences
    for (first, firstActions) in sentences {
      for (second, secondActions) in sentences {
        commands.append(("\(first) and \(second)", firstActions + secondActions))
        commands.append(("\(first) after \(second)", secondActions + firstActions))
      }
    }
    return commands
  }
}
