import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// Where a comparison is.
public struct ComparisonProgress: Sendable {
  public enum Stage: String, Sendable {
    /// Timing one teacher layer per stack for the planner (only when the registry keeps no profile).
    case profiling
    /// Generating every example in batches (quality and throughput).
    case evaluating
    /// Generating examples one at a time (latency).
    case timing
    /// The model's measurements are done.
    case measured
    /// Something the user should know; `label` says what.
    case warning
  }

  public var stage: Stage
  /// Models measured so far (distinct models; rows sharing a model share one).
  public var modelsDone: Int
  public var models: Int
  /// The row being measured (`size-first 2×`), or the warning.
  public var label: String
  /// Examples generated so far in this stage, of `examples`.
  public var examplesDone: Int
  public var examples: Int

  static func note(_ stage: Stage, _ label: String) -> ComparisonProgress {
    ComparisonProgress(stage: stage, modelsDone: 0, models: 0, label: label, examplesDone: 0, examples: 0)
  }
}

/// What ``Comparison/run(_:progress:)`` measures and where it writes.
public struct ComparisonParameters {
  public var registryFolder: URL
  /// The teacher's folder; nil: the one the registry names.
  public var teacherFolder: URL?
  /// The test examples every row is measured on.
  public var examples: [Example]
  /// Held-out examples that `measured` rows choose their plans by; none: no such rows.
  public var validationExamples: [Example]
  public var settings: ComparisonSettings
  /// The report folder (`report.md`, `results.json`, `results.csv`,
  /// `plot.svg`), replaced whole; nil writes nothing.
  public var reportFolder: URL?
  /// Also save each assembly under `reportFolder/models`.
  public var saveModels: Bool
  /// Measure the registry's latency profile again instead of using the kept one.
  public var remeasureLatency: Bool
  /// Let `reportFolder` replace another kind of Tessera output (never anything else).
  public var force: Bool
  /// The kinds of candidate besides the teacher; nil: ``Comparison/standardCandidates(_:)``.
  public var candidates: [any ComparisonCandidate]?
  /// A folder of baselines (`tessera baselines`), searched to its
  /// grandchildren; each becomes a row (``BaselineCandidate``) after the candidates.
  public var baselinesFolder: URL?
  /// Changes to the generation options after the teacher's settings (the command's flags).
  public var adjustGeneration: (inout GenerationOptions) throws -> Void

  public init(
    registryFolder: URL, teacherFolder: URL? = nil, examples: [Example], validationExamples: [Example] = [],
    settings: ComparisonSettings = ComparisonSettings(),
    reportFolder: URL? = nil, saveModels: Bool = false, remeasureLatency: Bool = false, force: Bool = false,
    candidates: [any ComparisonCandidate]? = nil, baselinesFolder: URL? = nil,
    adjustGeneration: @escaping (inout GenerationOptions) throws -> Void = { _ in }
  ) {
    self.adjustGeneration = adjustGeneration
    self.baselinesFolder = baselinesFolder
    self.force = force
    self.registryFolder = registryFolder
    self.teacherFolder = teacherFolder
    self.examples = examples
    self.validationExamples = validationExamples
    self.settings = settings
    self.reportFolder = reportFolder
    self.saveModels = saveModels
    self.remeasureLatency = remeasureLatency
    self.candidates = candidates
  }
}

/// Measures the teacher and the candidates (assemblies, layer dropping, …)
/// on the same examples: quality, sizes, the three compression ratios,
/// latency and throughput (`tessera compare`, `tessera demo`).
public enum Comparison {
  /// The candidates `settings` asks for: assemblies and, unless left out, layer dropping.
  public static func standardCandidates(_ settings: ComparisonSettings) -> [any ComparisonCandidate] {
    [AssemblyCandidate()] + (settings.measuredPlans > 0 ? [MeasuredAssemblyCandidate()] : [])
      + (settings.includeLayerDropping ? [LayerDroppingCandidate()] : [])
  }

  /// The whole pipeline: loads the registry and its teacher (checking the
  /// fingerprint), plans with the registry's latency profile, measures every
  /// row and writes the report folder. The report folder is checked before
  /// any work (an existing one must be a report Tessera wrote) and replaced
  /// whole at the end, so a run killed midway leaves the previous report intact.
  public static func run(
    _ parameters: ComparisonParameters, progress: (ComparisonProgress) -> Void = { _ in }
  ) throws -> ComparisonResults {
    try parameters.settings.validate()
    guard !parameters.examples.isEmpty else { throw ComparisonError.noExamples }
    let inputs = [parameters.registryFolder] + [parameters.teacherFolder, parameters.baselinesFolder].compactMap { $0 }
    if let folder = parameters.reportFolder { try ReportFolder.checkReplaceable(folder, force: parameters.force, reading: inputs) }
    if parameters.saveModels && parameters.reportFolder == nil {
      throw ComparisonError.invalidSetting("save_models", "models are saved inside the report folder; give one")
    }
    let registry = try ModuleRegistry.open(at: parameters.registryFolder)
    guard let teacherFolder = parameters.teacherFolder ?? registry.teacherFolder else {
      throw PlanningError.noTeacherFolder(registry: parameters.registryFolder.path)
    }
    let teacher = try ModelLoading.load(from: teacherFolder)
    let tokenizer = try loadTokenizer(from: teacherFolder, fitting: teacher)
    let latency: LatencySource =
      !parameters.settings.profileLatency ? .estimate : (parameters.remeasureLatency ? .remeasure : .keptProfile)
    if latency == .remeasure || (latency == .keptProfile && !LatencyProfile.isKept(in: registry.folder)) {
      progress(.note(.profiling, "teacher"))
    }
    let planning = try PlanningContext(
      teacher: teacher, teacherFolder: teacherFolder, registry: registry, latency: latency
    ) { progress(.note(.warning, $0)) }
    let candidates =
      try (parameters.candidates ?? standardCandidates(parameters.settings))
      + baselineCandidates(parameters.baselinesFolder, teacherFingerprint: planning.teacherFingerprint, tokenizer: tokenizer)
    guard let reportFolder = parameters.reportFolder else {
      return try measure(
        planning, tokenizer: tokenizer, examples: parameters.examples, validationExamples: parameters.validationExamples,
        settings: parameters.settings, candidates: candidates, adjustGeneration: parameters.adjustGeneration, progress: progress)
    }
    return try ReportFolder.replace(reportFolder, force: parameters.force, reading: inputs) { staging in
      let results = try measure(
        planning, tokenizer: tokenizer, examples: parameters.examples, validationExamples: parameters.validationExamples,
        settings: parameters.settings, candidates: candidates,
        saveModelsTo: parameters.saveModels ? staging.appendingPathComponent(ComparisonReport.modelsFolderName) : nil,
        adjustGeneration: parameters.adjustGeneration, progress: progress)
      try ComparisonReport.writeFiles(results, into: staging)
      return results
    }
  }

  /// Measures the teacher, the standard candidates of `settings` and any baselines, writing no report.
  ///
  /// - `teacherFolder`: when given, its fingerprint must be the registry's;
  ///   when nil the caller vouches that `teacher` is the registry's teacher.
  /// - Plans with the latency profile kept in the registry folder (measured
  ///   and kept there when missing), unless `settings.profileLatency` is off.
  /// - `saveModelsTo`: each distinct assembly is also written there as a model
  ///   folder named after its row (`size-first-2x`), with `assembly.json`
  ///   carrying the measured speedup.
  /// - `baselinesFolder`: baselines to compare too (``BaselineCandidate``).
  public static func run(
    teacher: any Seq2SeqModel, teacherFolder: URL?, registry: ModuleRegistry, tokenizer: any TextTokenizer,
    examples: [Example], validationExamples: [Example] = [], settings: ComparisonSettings, saveModelsTo: URL? = nil,
    baselinesFolder: URL? = nil,
    progress: (ComparisonProgress) -> Void = { _ in }
  ) throws -> ComparisonResults {
    try settings.validate()
    guard !examples.isEmpty else { throw ComparisonError.noExamples }
    if settings.profileLatency && !LatencyProfile.isKept(in: registry.folder) { progress(.note(.profiling, "teacher")) }
    let planning = try PlanningContext(
      teacher: teacher, teacherFolder: teacherFolder, registry: registry, latency: settings.profileLatency ? .keptProfile : .estimate
    ) { progress(.note(.warning, $0)) }
    let candidates =
      try standardCandidates(settings)
      + baselineCandidates(baselinesFolder, teacherFingerprint: planning.teacherFingerprint, tokenizer: tokenizer)
    return try measure(
      planning, tokenizer: tokenizer, examples: examples, validationExamples: validationExamples, settings: settings,
      candidates: candidates, saveModelsTo: saveModelsTo, progress: progress)
  }

  /// The baselines under `folder`, checked against the teacher; none without a folder.
  static func baselineCandidates(
    _ folder: URL?, teacherFingerprint: String, tokenizer: any TextTokenizer
  ) throws -> [any ComparisonCandidate] {
    guard let folder else { return [] }
    return [try BaselineCandidate(under: folder, teacherFingerprint: teacherFingerprint, tokenizer: tokenizer)]
  }

  /// Measures the teacher and the rows of `candidates`, in order of requested
  /// ratio (the teacher first), each candidate's rows in its order.
  ///
  /// - A row a candidate cannot make is a skipped row with its reason. Rows
  ///   whose models are the same (equal identities) are measured once.
  /// - Sizes are counted from each built model's own parameters.
  /// - Quality comes from greedy generation in batches of
  ///   `settings.throughputBatch` (which also gives throughput); latency is the
  ///   mean of batch-1 greedy generations of the first `settings.latencyExamples`
  ///   examples, timed in ``latencyRounds`` rounds over all models after their
  ///   quality passes, each example's fastest round counting. Every model
  ///   generates until its own end of sequence, so latency includes its own
  ///   output lengths.
  /// - The training-cost ledger sets the registry's `training-cost.json`
  ///   (read first, so a broken one fails before any measuring) against the
  ///   records of the ``BaselineCandidate``s among `candidates`.
  public static func measure(
    _ planning: PlanningContext, tokenizer: any TextTokenizer, examples: [Example], validationExamples: [Example] = [],
    settings: ComparisonSettings, candidates: [any ComparisonCandidate], saveModelsTo: URL? = nil,
    adjustGeneration: (inout GenerationOptions) throws -> Void = { _ in }, progress: (ComparisonProgress) -> Void = { _ in }
  ) throws -> ComparisonResults {
    try settings.validate()
    guard !examples.isEmpty else { throw ComparisonError.noExamples }
    let registryFingerprint = try planning.registry.fingerprint()
    // Read before measuring, so a broken file fails at once rather than after every model.
    let modulesCost = try ModuleTrainingCost.read(inRegistry: planning.registry.folder, teacherFingerprint: planning.teacherFingerprint)
    let data = TokenizedExamples(examples, tokenizer: tokenizer)
    // Every row generates with the teacher's checkpoint settings (generation_config.json), then the flags.
    let teacherFolder = planning.teacherFolder ?? planning.registry.teacherFolder
    let generation = try teacherFolder.flatMap { try GenerationSettings.read(folder: $0) }
    let generationOptions = try ModelEvaluation.generationOptions(
      model: planning.teacher, longestTarget: data.targets.map(\.count).max() ?? 1, generation: generation, adjust: adjustGeneration)
    let sourceTokens = median(data.sources.map(\.count)), targetTokens = median(data.targets.map(\.count))
    let planner = planning.planner, teacher = planning.teacher
    var context = ComparisonContext(
      teacher: teacher, registry: planning.registry, planner: planner, teacherFingerprint: planning.teacherFingerprint,
      registryFingerprint: registryFingerprint, tokenizer: tokenizer, settings: settings, validationExamples: validationExamples)
    if saveModelsTo != nil {
      // Saved assemblies generate as the teacher does, like those of `tessera assemble`.
      context.savedModelFiles = try ModelExport.generationConfigCopy(from: teacherFolder, for: teacher)
    }

    // Rows in ratio order (stable: each candidate's order within a ratio), the teacher first.
    let made = ([TeacherCandidate()] + candidates).flatMap { $0.rows(in: context) }
    var entries = (made + TransformRows.derive(from: made, chains: TransformRows.chains(of: settings), context: context)).enumerated().sorted { a, b in
      let (ra, rb) = (a.element.row.requestedRatio ?? 0, b.element.row.requestedRatio ?? 0)
      return ra != rb ? ra < rb : a.offset < b.offset
    }.map(\.element)
    if let repeated = Dictionary(grouping: entries.map(\.row.label), by: { $0 }).first(where: { $0.value.count > 1 })?.key {
      throw ComparisonError.invalidSetting("candidates", "two rows are labelled '\(repeated)'")
    }
    var firstRow: [AnyHashable: Int] = [:], measuredRows: [Int] = []
    for index in entries.indices {
      guard let identity = entries[index].identity else { continue }
      if let first = firstRow[identity] {
        entries[index].row.sameModelAs = entries[first].row.label
      } else {
        firstRow[identity] = index
        measuredRows.append(index)
      }
    }

    // Measure each distinct model; the teacher (row 0) first, for the speedups.
    let flopsShare = Double(sourceTokens) / Double(max(targetTokens, 1))
    var teacherMetric: Double?
    var measured: [(index: Int, model: any Seq2SeqModel, throughput: ComparisonRow.Timing, built: BuiltCandidate)] = []
    for (done, index) in measuredRows.enumerated() {
      let label = entries[index].row.label
      func report(_ stage: ComparisonProgress.Stage, _ examplesDone: Int, _ examples: Int) {
        progress(ComparisonProgress(
          stage: stage, modelsDone: done, models: measuredRows.count, label: label, examplesDone: examplesDone,
          examples: examples))
      }
      guard let build = entries[index].build else {
        throw ComparisonError.invalidSetting("candidates", "row '\(label)' has a model identity but no way to build it")
      }
      let built = try build(saveModelsTo?.appendingPathComponent(folderName(label)))
      entries[index].row.cost = planner.costs.cost(ofModel: built.model, sourceTokensPerGeneratedToken: flopsShare)
      let (quality, throughput) = try measureQuality(
        built.model, label: label, tokenizer: tokenizer, data: data, settings: settings, options: generationOptions, report: report)
      teacherMetric = teacherMetric ?? quality.metric
      entries[index].row.quality = quality
      entries[index].row.quality?.relativeToTeacher = teacherMetric.flatMap { $0 != 0 ? quality.metric / $0 : nil }
      measured.append((index, built.model, throughput, built))
      report(.measured, data.count, data.count)
    }
    // Latency after every quality pass, in rounds over all models, so that
    // other work on the machine falls on all of them alike.
    let latencies = try measureLatency(measured.map(\.model), data: data, settings: settings, options: generationOptions) { done, total in
      progress(ComparisonProgress(
        stage: .timing, modelsDone: measuredRows.count, models: measuredRows.count, label: "all models",
        examplesDone: done, examples: total))
    }
    for ((index, _, throughput, built), latency) in zip(measured, latencies) {
      var timing = throughput
      (timing.latencyMilliseconds, timing.latencyGeneratedTokens) = (latency.milliseconds, latency.tokens)
      timing.latencyExamples = latency.examples
      entries[index].row.timing = timing
      entries[index].row.cost?.latencySpeedup = latencies.first.map { $0.milliseconds / latency.milliseconds }
      try built.afterMeasuring?(entries[index].row)
    }
    var rows = entries.map(\.row)
    for index in rows.indices {
      guard let name = rows[index].sameModelAs, let source = rows.first(where: { $0.label == name }) else { continue }
      (rows[index].cost, rows[index].quality, rows[index].timing) = (source.cost, source.quality, source.timing)
    }
    markFronts(&rows)

    let costs = planner.costs
    let profile = planning.latencyProfile
    let ledger = TrainingCostLedger(
      modules: modulesCost,
      assemblyRatios: rows.filter { $0.kind == AssemblyCandidate.kind && $0.isMeasured }.compactMap(\.requestedRatio),
      baselines: candidates.compactMap { $0 as? BaselineCandidate }.flatMap { $0.baselines.map(\.record) })
    return ComparisonResults(
      formatVersion: ComparisonResults.currentFormatVersion, settings: settings,
      teacher: ComparisonResults.Teacher(
        modelType: teacher.modelType, path: planning.teacherFolder?.path ?? planning.registry.teacherFolder?.path,
        fingerprint: planning.teacherFingerprint, encoderDepth: costs.encoderDepth, decoderDepth: costs.decoderDepth,
        parameters: teacher.parameterCount, layerParameters: teacher.layerParameterCount),
      registry: ComparisonResults.Registry(
        path: planning.registry.folder.path, fingerprint: registryFingerprint, modules: planning.registry.entries.count,
        reachableRatios: planner.reachableRatios),
      data: ComparisonResults.DataSummary(
        name: settings.dataName, examples: data.count, medianSourceTokens: sourceTokens, medianTargetTokens: targetTokens),
      latencyProfile: ComparisonResults.LatencyProfile(
        sourceTokens: profile?.sourceTokens ?? LatencyProfile.defaultSourceTokens,
        generatedTokens: profile?.generatedTokens ?? LatencyProfile.defaultGeneratedTokens,
        encoderLayerSeconds: profile?.encoderLayerSeconds, decoderLayerSeconds: profile?.decoderLayerSeconds,
        file: profile.map { _ in planning.registry.folder.appendingPathComponent(LatencyProfile.fileName).path },
        measured: profile?.measured),
      environment: ComparisonResults.Environment(blas: BLAS.backendName, threads: ThreadCount.current),
      rows: rows, ledger: ledger)
  }

  /// Rounds of batch-1 timing over all models; each example's fastest round counts.
  static let latencyRounds = 3

  /// Quality and batched throughput from one pass over all examples (the
  /// returned timing's latency fields are filled by ``measureLatency``).
  static func measureQuality(
    _ model: any Seq2SeqModel, label: String, tokenizer: any TextTokenizer, data: TokenizedExamples,
    settings: ComparisonSettings, options: GenerationOptions? = nil, report: (ComparisonProgress.Stage, Int, Int) -> Void
  ) throws -> (ComparisonRow.Quality, ComparisonRow.Timing) {
    report(.evaluating, 0, data.count)
    let (result, _) = try ModelEvaluation.run(
      model: model, tokenizer: tokenizer, examples: data.examples, metrics: settings.metrics,
      batchSize: settings.throughputBatch, options: options, modelName: label
    ) { report(.evaluating, $0, data.count) }
    guard let metric = result.metric(settings.primaryMetric) else {
      throw ComparisonError.invalidSetting("primary_metric", "'\(settings.primaryMetric)' was not computed")
    }
    let quality = ComparisonRow.Quality(metric: metric, relativeToTeacher: nil, loss: result.loss, metrics: result.metrics)
    let batchSeconds = max(result.generationSeconds, 1e-9)
    let throughput = ComparisonRow.Timing(
      latencyMilliseconds: 0, latencyExamples: 0, latencyGeneratedTokens: 0,
      examplesPerSecond: Double(result.examples) / batchSeconds,
      generatedTokensPerSecond: Double(result.generatedTokens) / batchSeconds, batchSize: settings.throughputBatch)
    return (quality, throughput)
  }

  /// Mean batch-1 latency (ms, with the quality pass's generation settings) and generated tokens of the first
  /// `settings.latencyExamples` examples, per model. Every round times every
  /// model after an untimed warm-up; an example's fastest round counts, since
  /// other work on a shared machine only ever adds time.
  static func measureLatency(
    _ models: [any Seq2SeqModel], data: TokenizedExamples, settings: ComparisonSettings,
    options given: GenerationOptions? = nil, progress: (Int, Int) -> Void
  ) throws -> [(milliseconds: Double, tokens: Double, examples: Int)] {
    // The same generation settings as the quality pass.
    let options = given ?? GenerationOptions(maxNewTokens: (data.targets.map(\.count).max() ?? 1) + 8)
    let sources = Array(data.sources.prefix(settings.latencyExamples))
    var fastest = [[Double]](repeating: [Double](repeating: .infinity, count: sources.count), count: models.count)
    var tokens = [Int](repeating: 0, count: models.count)
    let total = latencyRounds * models.count
    for round in 0..<latencyRounds {
      for (m, model) in models.enumerated() {
        _ = try generate(model, sources: [sources[0]], options: options)  // warm-up
        for (e, source) in sources.enumerated() {
          let start = DispatchTime.now().uptimeNanoseconds
          let output = try generate(model, sources: [source], options: options)
          fastest[m][e] = min(fastest[m][e], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
          if round == 0 { tokens[m] += ModelEvaluation.generatedTokenCount(output, eos: model.specialTokens.eos) }
        }
        progress(round * models.count + m + 1, total)
      }
    }
    let count = Double(max(sources.count, 1))
    return (0..<models.count).map { m in
      (fastest[m].reduce(0, +) / count * 1000, Double(tokens[m]) / count, sources.count)
    }
  }

  /// Marks the rows on each Pareto front: higher quality against higher
  /// measured speedup, and against fewer stored weight bytes (fewer
  /// parameters, or fewer bits per parameter).
  static func markFronts(_ rows: inout [ComparisonRow]) {
    let measured = rows.indices.filter { rows[$0].isMeasured }
    let speed = ParetoFront.members(measured.map { (x: rows[$0].cost!.latencySpeedup ?? 1, y: rows[$0].quality!.metric) }, higherXIsBetter: true)
    let size = ParetoFront.members(measured.map { (x: Double(rows[$0].cost!.weightBytesOrFP32), y: rows[$0].quality!.metric) }, higherXIsBetter: false)
    for (position, index) in measured.enumerated() {
      rows[index].onSpeedFront = speed.contains(position)
      rows[index].onSizeFront = size.contains(position)
    }
  }

  /// `size-first 1.5×` → `size-first-1.5x`.
  static func folderName(_ label: String) -> String {
    label.replacingOccurrences(of: "×", with: "x").replacingOccurrences(of: " ", with: "-")
  }

  static func median(_ values: [Int]) -> Int { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
}

/// The points no other point beats on both coordinates.
public enum ParetoFront {
  /// Indices of `points` on the front where higher `y` is better and higher
  /// (or, with `higherXIsBetter` false, lower) `x` is better. Equal points are
  /// all on it or all off it.
  public static func members(_ points: [(x: Double, y: Double)], higherXIsBetter: Bool) -> Set<Int> {
    let sign = higherXIsBetter ? 1.0 : -1.0
    // Best x first; at equal x, best y first.
    let order = points.indices.sorted { a, b in
      let (xa, xb) = (sign * points[a].x, sign * points[b].x)
      return xa != xb ? xa > xb : (points[a].y != points[b].y ? points[a].y > points[b].y : a < b)
    }
    var front = Set<Int>()
    var bestY = -Double.infinity
    var last: (x: Double, y: Double)?
    for index in order {
      let point = points[index]
      if point.y > bestY || (last.map { $0.x == point.x && $0.y == point.y } ?? false) {
        front.insert(index)
        bestY = max(bestY, point.y)
        last = point
      }
    }
    return front
  }
}
