import Foundation

/// What it cost to have a model at every compared ratio: the modules run(s)
/// behind all assemblies against, per baseline method, the sum of its one
/// run per ratio (label generation included). In `results.json` as `ledger`
/// and in `report.md`.
///
/// A figure that no file records is null (shown as "not recorded"), never 0:
/// a registry trained before Tessera kept `training-cost.json` cost
/// something, only nobody wrote it down.
public struct TrainingCostLedger: Codable, Sendable, Equatable {
  public var modules: Modules
  /// One entry per baseline method compared, in ``BaselineMethod`` order.
  public var baselines: [Method]

  /// The registry's module runs (``ModuleTrainingCost``).
  public struct Modules: Codable, Sendable, Equatable {
    /// Whether the registry keeps `training-cost.json`; when not, every figure below is null.
    public var recorded: Bool
    @NullEncoded public var runs: Int?
    @NullEncoded public var steps: Int?
    @NullEncoded public var tokens: Int?
    @NullEncoded public var seconds: Double?
    /// The compared ratios at which an assembly was measured: what the runs bought.
    public var ratios: [Double]

    enum CodingKeys: String, CodingKey { case recorded, runs, steps, tokens, seconds, ratios }
  }

  /// One baseline method, summed over its ratios.
  public struct Method: Codable, Sendable, Equatable {
    public var method: String
    /// Baselines (one training run each) of this method.
    public var runs: Int
    /// Their requested ratios, ascending.
    public var ratios: [Double]
    public var steps: Int
    public var tokens: Int
    /// Training seconds plus label seconds.
    public var seconds: Double
    /// Of `seconds`, those spent generating pseudo-labels.
    public var labelSeconds: Double
    /// `seconds` / the modules runs' seconds; null when those are not recorded (or 0).
    @NullEncoded public var secondsVersusModules: Double?
    /// `steps` / the modules runs' steps; null when those are not recorded (or 0).
    @NullEncoded public var stepsVersusModules: Double?

    enum CodingKeys: String, CodingKey {
      case method, runs, ratios, steps, tokens, seconds, labelSeconds = "label_seconds"
      case secondsVersusModules = "seconds_vs_modules", stepsVersusModules = "steps_vs_modules"
    }
  }

  /// The ledger of `modules` (nil: not recorded), whose assemblies were
  /// measured at `assemblyRatios`, against `baselines`.
  public init(modules cost: ModuleTrainingCost?, assemblyRatios: [Double], baselines: [BaselineRecord]) {
    let total = cost?.total
    modules = Modules(
      recorded: cost != nil, runs: total?.runs, steps: total?.steps, tokens: total?.tokens, seconds: total?.seconds,
      ratios: Self.distinctSorted(assemblyRatios))
    func share(_ value: Double, of base: Double?) -> Double? { base.flatMap { $0 > 0 ? value / $0 : nil } }
    self.baselines = BaselineMethod.allCases.compactMap { method in
      let records = baselines.filter { $0.method == method }
      guard !records.isEmpty else { return nil }
      let steps = records.reduce(0) { $0 + $1.steps }
      let labelSeconds = records.reduce(0) { $0 + $1.labelSeconds }
      let seconds = records.reduce(0) { $0 + $1.seconds } + labelSeconds
      return Method(
        method: method.rawValue, runs: records.count, ratios: Self.distinctSorted(records.map(\.requestedRatio)), steps: steps,
        tokens: records.reduce(0) { $0 + $1.tokens }, seconds: seconds, labelSeconds: labelSeconds,
        secondsVersusModules: share(seconds, of: total?.seconds), stepsVersusModules: share(Double(steps), of: total.map { Double($0.steps) }))
    }
  }

  /// Ascending, ratios that print alike counted once.
  static func distinctSorted(_ ratios: [Double]) -> [Double] {
    var seen = Set<String>()
    return ratios.sorted().filter { seen.insert(formatRatio($0)).inserted }
  }
}
