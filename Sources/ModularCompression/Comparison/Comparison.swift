import Foundation
import Seq2SeqModels
import TensorCore
import TextTasks
import Tokenizers

/// Where ``Comparison/run(teacher:teacherFolder:registry:tokenizer:examples:settings:saveModelsTo:progress:)`` is.
public struct ComparisonProgress: Sendable {
  public enum Stage: String, Sendable {
    /// Timing one teacher layer per stack for the planner.
    case profiling
    /// Generating every example in batches (quality and throughput).
    case evaluating
    /// Generating examples one at a time (latency).
    case timing
    /// The model's measurements are done.
    case measured
  }

  public var stage: Stage
  /// Models measured so far (distinct models; rows sharing a plan share one).
  public var modelsDone: Int
  public var models: Int
  /// The row being measured (`size-first 2×`).
  public var label: String
  /// Examples generated so far in this stage, of `examples`.
  public var examplesDone: Int
  public var examples: Int
}

/// Measures the teacher, its assemblies and the layer-dropping baseline on
/// the same examples: quality, sizes, the three compression ratios, latency
/// and throughput (`tessera compare`, `tessera demo`).
public enum Comparison {
  /// Runs the sweep of `settings` and returns one row per teacher, (ratio,
  /// strategy) and layer-dropping ratio.
  ///
  /// - `teacherFolder`: when given, its fingerprint must be the registry's;
  ///   when nil the caller vouches that `teacher` is the registry's teacher.
  /// - A (ratio, strategy) the registry cannot reach becomes a skipped row
  ///   with the planner's message. Rows whose plans coincide are measured once.
  /// - `saveModelsTo`: each distinct assembly is also written there as a model
  ///   folder named after its row (`size-first-2x`), with `assembly.json`
  ///   carrying the measured speedup.
  /// - Quality comes from greedy generation in batches of
  ///   `settings.throughputBatch` (which also gives throughput); latency is the
  ///   mean of batch-1 greedy generations of the first `settings.latencyExamples`
  ///   examples, timed in ``latencyRounds`` rounds over all models after their
  ///   quality passes, each example's fastest round counting. Every model
  ///   generates until its own end of sequence, so latency includes its own
  ///   output lengths.
  public static func run(
    teacher: any Seq2SeqModel, teacherFolder: URL?, registry: ModuleRegistry, tokenizer: any TextTokenizer,
    examples: [Example], settings: ComparisonSettings, saveModelsTo: URL? = nil,
    progress: (ComparisonProgress) -> Void = { _ in }
  ) throws -> ComparisonResults {
    try settings.validate()
    guard !examples.isEmpty else { throw ComparisonError.noExamples }
    let teacherFingerprint = try teacherFolder.map { try TeacherFingerprint.of(modelFolder: $0) } ?? registry.teacherFingerprint
    try registry.checkTeacher(teacherFingerprint)
    let registryFingerprint = try registry.fingerprint()
    let data = TokenizedExamples(examples, tokenizer: tokenizer)
    let sourceTokens = median(data.sources.map(\.count)), targetTokens = median(data.targets.map(\.count))
    let costs = LayerCosts(teacher: teacher)

    progress(ComparisonProgress(stage: .profiling, modelsDone: 0, models: 0, label: "teacher", examplesDone: 0, examples: 0))
    let latency =
      settings.profileLatency
      ? BlockLatencyProfiler(sourceLength: sourceTokens, generatedTokens: targetTokens).profile(teacher)
      : LatencyModel(generatedTokens: Double(targetTokens))
    let planner = AssemblyPlanner(costs: costs, catalog: registry, latency: latency)
    // Sizes with the registry's module sizes; FLOPs per generated token spread
    // the encoder's pass over the median source across the median output.
    func cost(of plan: AssemblyPlan) -> PlanCost {
      planner.costs.cost(of: plan, sourceTokensPerGeneratedToken: Double(sourceTokens) / Double(max(targetTokens, 1)))
    }

    // Rows and the distinct models behind them, in row order.
    var (rows, plans) = planRows(settings: settings, planner: planner, size: cost)
    var firstRow: [AssemblyPlan: Int] = [:]
    for (index, plan) in plans.enumerated() {
      guard let plan else { continue }
      if let first = firstRow[plan] { rows[index].sameModelAs = rows[first].label } else { firstRow[plan] = index }
    }

    // Measure each distinct model; the teacher (row 0) first, for the speedups.
    let measuredRows = firstRow.values.sorted()  // the teacher's row first
    var teacherMetric: Double?
    var measured: [(index: Int, model: any Seq2SeqModel, throughput: ComparisonRow.Timing, savedFolder: URL?)] = []
    for (done, index) in measuredRows.enumerated() {
      let label = rows[index].label
      func report(_ stage: ComparisonProgress.Stage, _ examplesDone: Int, _ examples: Int) {
        progress(ComparisonProgress(
          stage: stage, modelsDone: done, models: measuredRows.count, label: label, examplesDone: examplesDone,
          examples: examples))
      }
      let plan = plans[index]!
      var savedFolder: URL?
      let model: any Seq2SeqModel
      switch rows[index].kind {
      case .teacher: model = teacher
      case .layerDropping: model = try LayerDropping.apply(plan, to: teacher)
      case .assembly:
        let loadBlock = { (span: ModuleSpan) in try registry.loadBlock(span, for: teacher, teacherFingerprint: teacherFingerprint) }
        guard let saveModelsTo else {
          model = try Assembler.assemble(teacher: teacher, plan: plan, loadBlock: loadBlock)
          break
        }
        savedFolder = saveModelsTo.appendingPathComponent(folderName(label))
        model = try Assembler.assemble(
          planner.evaluate(plan).withStrategy(rows[index]), teacher: teacher, loadBlock: loadBlock, to: savedFolder!,
          tokenizer: tokenizer, registryFingerprint: registryFingerprint, teacherFingerprint: teacherFingerprint
        ).model
      }
      let (quality, throughput) = try measureQuality(model, tokenizer: tokenizer, data: data, settings: settings, report: report)
      teacherMetric = teacherMetric ?? quality.metric
      rows[index].quality = quality
      rows[index].quality?.relativeToTeacher = teacherMetric.flatMap { $0 != 0 ? quality.metric / $0 : nil }
      measured.append((index, model, throughput, savedFolder))
      report(.measured, data.count, data.count)
    }
    // Latency after every quality pass, in rounds over all models, so that
    // other work on the machine falls on all of them alike.
    let latencies = try measureLatency(measured.map(\.model), data: data, settings: settings) { done, total in
      progress(ComparisonProgress(
        stage: .timing, modelsDone: measuredRows.count, models: measuredRows.count, label: "all models",
        examplesDone: done, examples: total))
    }
    for ((index, _, throughput, savedFolder), latency) in zip(measured, latencies) {
      var timing = throughput
      (timing.latencyMilliseconds, timing.latencyGeneratedTokens) = (latency.milliseconds, latency.tokens)
      timing.latencyExamples = latency.examples
      rows[index].timing = timing
      rows[index].cost?.latencySpeedup = latencies.first.map { $0.milliseconds / latency.milliseconds }
      if let savedFolder, let cost = rows[index].cost {
        var saved = try AssemblyReport.load(from: savedFolder)
        saved.cost = cost
        try AtomicFile.write(try saved.jsonData(), to: savedFolder.appendingPathComponent(AssemblyReport.fileName))
      }
    }
    for index in rows.indices {
      guard let name = rows[index].sameModelAs, let source = rows.first(where: { $0.label == name }) else { continue }
      (rows[index].cost, rows[index].quality, rows[index].timing) = (source.cost, source.quality, source.timing)
    }
    markFronts(&rows)

    return ComparisonResults(
      formatVersion: ComparisonResults.currentFormatVersion, settings: settings,
      teacher: ComparisonResults.Teacher(
        modelType: teacher.modelType, path: teacherFolder?.path ?? registry.teacherFolder?.path, fingerprint: teacherFingerprint,
        encoderDepth: costs.encoderDepth, decoderDepth: costs.decoderDepth, parameters: teacher.parameterCount,
        layerParameters: teacher.layerParameterCount),
      registry: ComparisonResults.Registry(
        path: registry.folder.path, fingerprint: registryFingerprint, modules: registry.entries.count,
        reachableRatios: planner.reachableRatios),
      data: ComparisonResults.DataSummary(
        name: settings.dataName, examples: data.count, medianSourceTokens: sourceTokens, medianTargetTokens: targetTokens),
      latencyProfile: ComparisonResults.LatencyProfile(
        sourceTokens: sourceTokens, generatedTokens: targetTokens,
        encoderLayerSeconds: latency.measuredSeconds[.teacherLayer(.encoder)],
        decoderLayerSeconds: latency.measuredSeconds[.teacherLayer(.decoder)]),
      environment: ComparisonResults.Environment(blas: BLAS.backendName, threads: ThreadCount.current),
      rows: rows)
  }

  /// The teacher's row, then per ratio one row per strategy and one for layer
  /// dropping, each with its plan (nil when skipped) and `size`d cost.
  static func planRows(
    settings: ComparisonSettings, planner: AssemblyPlanner, size: (AssemblyPlan) -> PlanCost
  ) -> (rows: [ComparisonRow], plans: [AssemblyPlan?]) {
    let costs = planner.costs
    let teacherPlan = AssemblyPlan.teacher(encoderDepth: costs.encoderDepth, decoderDepth: costs.decoderDepth)
    var teacherRow = ComparisonRow(kind: .teacher)
    teacherRow.plan = "all \(costs.encoderDepth)+\(costs.decoderDepth) teacher layers"
    var rows = [teacherRow], plans: [AssemblyPlan?] = [teacherPlan]
    /// Adds `row` with the plan `makePlan` returns (it may note predictions on the row).
    func add(_ row: ComparisonRow, _ makePlan: (inout ComparisonRow) throws -> AssemblyPlan) {
      var row = row
      do {
        let plan = try makePlan(&row)
        row.plan = plan.summary
        row.cost = size(plan)
        plans.append(plan)
      } catch {
        row.skipped = "\(error)"
        plans.append(nil)
      }
      rows.append(row)
    }
    rows[0].cost = size(teacherPlan)
    for ratio in settings.ratios {
      for strategy in settings.strategies {
        add(ComparisonRow(kind: .assembly, strategy: strategy, requestedRatio: ratio)) { row in
          let planned = try planner.plan(strategy: strategy, ratio: ratio)
          (row.predictedLossIncrease, row.estimatedSpeedup) = (planned.predictedLossIncrease, planned.estimatedSpeedup)
          return planned.plan
        }
      }
      if settings.includeLayerDropping {
        add(ComparisonRow(kind: .layerDropping, requestedRatio: ratio)) { _ in try LayerDropping.plan(costs: costs, ratio: ratio) }
      }
    }
    return (rows, plans)
  }

  /// Rounds of batch-1 timing over all models; each example's fastest round counts.
  static let latencyRounds = 3

  /// Quality and batched throughput from one pass over all examples (the
  /// returned timing's latency fields are filled by ``measureLatency``).
  static func measureQuality(
    _ model: any Seq2SeqModel, tokenizer: any TextTokenizer, data: TokenizedExamples, settings: ComparisonSettings,
    report: (ComparisonProgress.Stage, Int, Int) -> Void
  ) throws -> (ComparisonRow.Quality, ComparisonRow.Timing) {
    report(.evaluating, 0, data.count)
    let (result, _) = try ModelEvaluation.run(
      model: model, tokenizer: tokenizer, examples: data.examples, metrics: settings.metrics,
      batchSize: settings.throughputBatch
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

  /// Mean batch-1 greedy latency (ms) and generated tokens of the first
  /// `settings.latencyExamples` examples, per model. Every round times every
  /// model after an untimed warm-up; an example's fastest round counts, since
  /// other work on a shared machine only ever adds time.
  static func measureLatency(
    _ models: [any Seq2SeqModel], data: TokenizedExamples, settings: ComparisonSettings,
    progress: (Int, Int) -> Void
  ) throws -> [(milliseconds: Double, tokens: Double, examples: Int)] {
    // The same generation length limit as the quality pass.
    let options = GenerationOptions(maxNewTokens: (data.targets.map(\.count).max() ?? 1) + 8)
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
  /// measured speedup, and against fewer total parameters.
  static func markFronts(_ rows: inout [ComparisonRow]) {
    let measured = rows.indices.filter { rows[$0].isMeasured }
    let speed = ParetoFront.members(measured.map { (x: rows[$0].cost!.latencySpeedup ?? 1, y: rows[$0].quality!.metric) }, higherXIsBetter: true)
    let size = ParetoFront.members(measured.map { (x: Double(rows[$0].cost!.totalParameters), y: rows[$0].quality!.metric) }, higherXIsBetter: false)
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

extension PlannedAssembly {
  /// The plan as `row` asked for it: its strategy and ratio, for `assembly.json`.
  fileprivate func withStrategy(_ row: ComparisonRow) -> PlannedAssembly {
    var planned = self
    planned.strategy = row.strategy
    planned.budget = row.requestedRatio.map { .layerParameterRatio($0) }
    return planned
  }
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
