import Foundation
import JSONFormat
import TensorCore

/// One trained model of a lottery run, measured on the test split as `tessera evaluate` does.
public struct LotteryMeasurement: Codable, Sendable, Equatable {
  /// Exact match, 0–1.
  public var exactMatch: Double
  /// chrF, 0–100.
  public var chrF: Double
  /// Mean teacher-forced cross-entropy per target token (nats).
  public var loss: Double
  /// Training steps this model took (a round's: from the rewind step on).
  public var steps: Int
  /// Seconds spent in those steps, over every resume.
  public var seconds: Double

  enum CodingKeys: String, CodingKey, CaseIterable {
    case exactMatch = "exact_match", chrF = "chrf", loss, steps, seconds
  }
}

extension LotteryMeasurement {

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    exactMatch = try c.decode(Double.self, forKey: .exactMatch)
    chrF = try c.decode(Double.self, forKey: .chrF)
    loss = try c.decode(Double.self, forKey: .loss)
    steps = try c.decode(Int.self, forKey: .steps)
    seconds = try c.decode(Double.self, forKey: .seconds)
    try c.refuseNegative([(.steps, steps)])
    try c.refuseNegativeOrNonFinite([(.exactMatch, exactMatch), (.chrF, chrF), (.loss, loss), (.seconds, seconds)])
  }
}

/// One point of the curve: round 0 is the dense model (no control).
public struct LotteryRound: Codable, Sendable, Equatable {
  public var round: Int
  /// The share of the target weights pruned.
  public var sparsity: Double
  /// Target weights the mask keeps.
  public var keptWeights: Int
  public var ticket: LotteryMeasurement
  /// The random re-initialisation at the same mask.
  public var control: LotteryMeasurement?

  enum CodingKeys: String, CodingKey, CaseIterable {
    case round, sparsity, keptWeights = "kept_weights", ticket, control
  }
}

extension LotteryRound {

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    round = try c.decode(Int.self, forKey: .round)
    sparsity = try c.decode(Double.self, forKey: .sparsity)
    keptWeights = try c.decode(Int.self, forKey: .keptWeights)
    ticket = try c.decode(LotteryMeasurement.self, forKey: .ticket)
    control = try c.decodeIfPresent(LotteryMeasurement.self, forKey: .control)
    try c.refuseNegative([(.round, round), (.keptWeights, keptWeights)])
    guard (0...1).contains(sparsity) else {
      throw DecodingError.dataCorruptedError(forKey: .sparsity, in: c, debugDescription: "must lie in 0…1, got \(sparsity)")
    }
  }
}

/// `curve.json`: what a lottery run was asked for and every round it
/// finished. It marks the folder as a lottery run and is what `--resume` reads.
public struct LotteryCurve: Codable, Sendable, Equatable {
  public static let fileName = "curve.json"
  public static let csvFileName = "curve.csv"
  public static let markdownFileName = "report.md"
  public static let plotFileName = "curve.svg"
  public static let currentFormatVersion = 1
  /// "Within one point" of exact match.
  public static let winningMargin = 0.01

  public var formatVersion = LotteryCurve.currentFormatVersion
  public var settings: LotterySettings
  /// Training steps of the dense run (rounds train from the rewind step to it).
  public var steps: Int
  /// Settings, model, tokenizer and data of the recipe; resuming under others is refused.
  public var fingerprint: String
  /// Weights of the pruned layers (the blocks' attention and feed-forward layers).
  public var targetWeights: Int
  /// Finished rounds in order, the dense model first.
  public var rounds: [LotteryRound] {
    didSet { winningRound = Self.winner(of: rounds) }
  }
  /// The sparsest round whose ticket's exact match is within one point of
  /// the dense model's (0 when no pruned ticket is); nil before the dense model is measured.
  public private(set) var winningRound: Int?

  public init(settings: LotterySettings, steps: Int, fingerprint: String, targetWeights: Int) {
    self.settings = settings
    self.steps = steps
    self.fingerprint = fingerprint
    self.targetWeights = targetWeights
    rounds = []
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case formatVersion = "format_version", settings, steps, fingerprint, targetWeights = "target_weights", rounds
    case winningRound = "winning_round"
  }

  public init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    formatVersion = try c.decodeFormatVersion(forKey: .formatVersion, reading: Self.currentFormatVersion)
    settings = try c.decode(LotterySettings.self, forKey: .settings)
    steps = try c.decode(Int.self, forKey: .steps)
    fingerprint = try c.decode(String.self, forKey: .fingerprint)
    targetWeights = try c.decode(Int.self, forKey: .targetWeights)
    rounds = try c.decode([LotteryRound].self, forKey: .rounds)
    winningRound = Self.winner(of: rounds)
    for (index, round) in rounds.enumerated() where round.round != index {
      throw DecodingError.dataCorruptedError(forKey: .rounds, in: c, debugDescription: "entry \(index) is round \(round.round)")
    }
  }

  static func winner(of rounds: [LotteryRound]) -> Int? {
    guard let dense = rounds.first else { return nil }
    let bar = dense.ticket.exactMatch - winningMargin - 1e-12
    return rounds.filter { $0.ticket.exactMatch >= bar }.max { $0.sparsity < $1.sparsity }?.round
  }

  static func read(from folder: URL) throws -> LotteryCurve {
    try StrictJSONFile.decode(LotteryCurve.self, from: folder.appendingPathComponent(fileName))
  }

  /// Writes `curve.json`, `curve.csv`, `report.md` and `curve.svg`, each atomically.
  func write(to folder: URL) throws {
    try StrictJSONFile.write(self, to: folder.appendingPathComponent(Self.fileName))
    try AtomicFile.write(Data(csv().utf8), to: folder.appendingPathComponent(Self.csvFileName))
    try AtomicFile.write(Data(markdown().utf8), to: folder.appendingPathComponent(Self.markdownFileName))
    try AtomicFile.write(Data(LotteryCurvePlot.svg(self).utf8), to: folder.appendingPathComponent(Self.plotFileName))
  }

  /// One line per round; the control's columns are empty for the dense model.
  func csv() -> String {
    let header = "round,sparsity,kept_weights,ticket_em,ticket_chrf,ticket_loss,ticket_steps,ticket_seconds,"
      + "control_em,control_chrf,control_loss,control_steps,control_seconds"
    func columns(_ m: LotteryMeasurement?) -> [String] {
      guard let m else { return ["", "", "", "", ""] }
      return [fixed(m.exactMatch, 4), fixed(m.chrF, 2), fixed(m.loss, 4), "\(m.steps)", fixed(m.seconds, 1)]
    }
    let lines = rounds.map { round in
      (["\(round.round)", fixed(round.sparsity, 4), "\(round.keptWeights)"] + columns(round.ticket) + columns(round.control))
        .joined(separator: ",")
    }
    return ([header] + lines).joined(separator: "\n") + "\n"
  }

  /// The table, the winning ticket and how the control compares.
  func markdown() -> String {
    var out = [
      "# Lottery tickets",
      "",
      "Iterative magnitude pruning (\(settings.scope.rawValue) threshold) of \(fixed(settings.rate * 100, 0))% of the kept attention "
        + "and feed-forward weights a round, survivors rewound to step \(settings.rewindStep) and retrained for steps "
        + "\(settings.rewindStep + 1)–\(steps) with the mask held fixed; the control is a fresh initialisation (another "
        + "seed) under the same mask, trained the same way. EM and chrF on the test split, loss teacher-forced. "
        + "\(targetWeights.formatted()) target weights.",
      "",
      "| round | sparsity | kept weights | ticket EM | ticket chrF | ticket loss | control EM | control chrF | control loss | steps | seconds |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for round in rounds {
      let seconds = round.ticket.seconds + (round.control?.seconds ?? 0)
      out.append(
        "| \(round.round) | \(fixed(round.sparsity * 100, 1))% | \(round.keptWeights.formatted()) | "
          + "\(fixed(round.ticket.exactMatch * 100, 1)) | \(fixed(round.ticket.chrF, 2)) | \(fixed(round.ticket.loss, 4)) | "
          + (round.control.map { "\(fixed($0.exactMatch * 100, 1)) | \(fixed($0.chrF, 2)) | \(fixed($0.loss, 4))" } ?? "– | – | –")
          + " | \(round.ticket.steps) | \(fixed(seconds, 0)) |")
    }
    out += ["", "![EM against sparsity](\(Self.plotFileName))", ""]
    if let winner = winningRound, let dense = rounds.first {
      let win = rounds[winner]
      out.append(
        winner == 0
          ? "**Winning ticket:** none of the pruned tickets is within 1 EM point of the dense model "
            + "(\(fixed(dense.ticket.exactMatch * 100, 1))); the sparsest model within it is the dense model itself."
          : "**Winning ticket:** round \(winner), \(fixed(win.sparsity * 100, 1))% sparse, EM \(fixed(win.ticket.exactMatch * 100, 1)) "
            + "against the dense model's \(fixed(dense.ticket.exactMatch * 100, 1)) (no more than 1 point below it); its control reaches "
            + "\(win.control.map { fixed($0.exactMatch * 100, 1) } ?? "–").")
      let pruned = rounds.dropFirst()
      if !pruned.isEmpty {
        let better = pruned.filter { ($0.control?.exactMatch ?? 0) < $0.ticket.exactMatch }.count
        out.append("")
        out.append("The ticket beats its random re-initialisation in \(better) of \(pruned.count) rounds.")
      }
    }
    return out.joined(separator: "\n") + "\n"
  }

  private func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
