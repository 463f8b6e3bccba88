import Foundation
import ModularCompression
import NeuralLayers
import Seq2SeqModels
import TextTasks
import Tokenizers

/// `tessera compare`: the teacher, its assemblies and layer dropping, measured side by side.
enum CompareCommand {
  static let command = Command(
    path: ["compare"],
    summary: "Measure quality, size and speed of assemblies at many ratios against the teacher, layer dropping and any baselines",
    discussion: """
      EXAMPLES:
        tessera compare --registry Checkpoints/demo/registry --task arithmetic
        tessera compare --registry reg --task dates --baselines baselines/ --ratios 2,3,6
        tessera compare --registry reg --data pairs.jsonl --test test.jsonl --ratios 1.5,2,3 \\
          --strategies speed-first,pareto --metric chrf --out reports/pairs --save-models

      For the teacher, each (ratio, strategy) assembly and, at each ratio, plain
      layer dropping (evenly spaced teacher layers kept, no training: the floor
      modules must beat), on the TEST split: quality (--metric, EM and chrF, and
      the teacher-forced loss), encoder/decoder depth, parameters, estimated
      FLOPs per generated token, batch-1 greedy latency (mean over
      --latency-examples), batched throughput and the measured speedup.

      The compression ratio is reported four ways together: Transformer-layer
      parameters (the headline, what --ratios budgets), total parameters,
      stored weight bytes (bytes×: the fp32 teacher's bytes over the model's)
      and measured decoding speedup. A ratio the registry cannot reach is listed as
      skipped with the reachable ratios; strategies that pick the same plan are
      measured once. The planner uses the latency profile kept in the registry
      folder (latency-profile.json: one teacher layer per stack, timed once and
      kept), the same one tessera assemble uses, so both pick the same plan for
      the same request; --remeasure-latency times it again.

      Each `measured N×` row is the plan, among the --measured-plans the
      planner ranks best at that size, with the lowest teacher-forced loss on
      the first 200 examples of the VALIDATION split (never the test split):
      the planner's prediction adds up each module's loss alone in the
      teacher, which cannot see how modules fare side by side.

      --baselines DIR adds the per-ratio students of tessera baselines: every
      folder with baseline.json in DIR, its subfolders or theirs becomes a row
      (kind baseline, labelled like `kd 2×`), measured like the assemblies and
      ranked against them at its ratio. A baseline trained against another
      teacher than the registry's is refused, naming its folder. The report's
      training-cost ledger sets the steps, tokens and seconds of the modules
      run (the registry's training-cost.json; "not recorded" for registries
      trained before Tessera kept it) against each method's runs summed over
      its ratios.

      --quantize int8,bf16 adds, for the teacher and every assembly row, a
      copy quantized with each scheme (tessera quantize's layers; kind
      quantized, labelled like `size-first 2× int8`), measured like the rest:
      its bytes× stacks the scheme on the assembly's own ratio.

      --transforms FILE applies each transform chain of FILE (a JSON list of
      chains, each a list of stages, as tessera compress and tessera quantize
      take them) to a copy of the teacher and of every assembly row, e.g.
        [[{"compress": {"method": "ae", "ratio": 2}}],
         [{"compress": {"method": "svd", "ratio": 1.5, "targets": ["ffn"]}},
          {"quantize": {"scheme": "int8"}}]]
      (kind transformed, labelled like `size-first 3× svd 1.5× ffn → int8`).
      compress stages take method (svd, fwsvd, ae, ae-shared), ratio, targets,
      steps and calibration (fwsvd calibrates on the validation split);
      quantize stages take scheme and keep_fp32, and come last. The report's
      stacking table lists every transformed and quantized row by bytes
      ratio, with the share of the teacher's quality it keeps.

      Writes OUT/report.md, OUT/results.json, OUT/results.csv and OUT/plot.svg
      (quality against speedup and against stored weight bytes, Pareto fronts marked);
      --save-models also writes each assembly to OUT/models/<strategy>-<ratio>x.
      OUT is replaced whole when the run ends; an existing OUT must be a report
      folder compare wrote.
      Timings are real: run a release build on an otherwise idle machine.
      Every row generates with the teacher folder's generation_config.json
      (or config.json's generation fields); the generation flags override it.
      """,
    options: [
      .value("--registry", "DIR", "Module registry (required)"),
      .value("--teacher", "DIR", "Teacher model folder (default: the one the registry names)"),
      .value("--ratios", "LIST", "Layer-parameter ratios, each ≥ 1", default: "1.1,1.5,2,3,4,6"),
      .value("--strategies", "LIST", "Strategies: size-first, speed-first, pareto", default: "size-first,speed-first,pareto"),
    ] + DatasetOptions.options + [
      .value("--count", "N", "Test examples to evaluate on", default: "200"),
      .value("--metric", "NAME", "Quality metric that ranks models: em, chrf, bleu, rouge-1, rouge-2, rouge-l", default: "em"),
      .value("--latency-examples", "N", "Examples timed one at a time (batch 1) for latency", default: "20"),
      .value("--batch", "N", "Batch size of the quality pass, which gives throughput", default: "64"),
      .value("--measured-plans", "N", "Plans scored on validation examples for each `measured` row (0: no such rows)", default: "24"),
      .flag("--no-layer-dropping", "Leave out the layer-dropping baseline"),
      .value("--quantize", "LIST", "Also measure the teacher and every assembly quantized: int8, bf16 (rows `… int8`)"),
      .value("--transforms", "FILE", "Also measure the teacher and every assembly through each transform chain of FILE (JSON)"),
      .value("--baselines", "DIR", "Also compare the baselines (tessera baselines) found in DIR and two levels below"),
      .value("--out", "DIR", "Report folder", default: "compare-report"),
      .flag("--save-models", "Also save each assembly under OUT/models"),
      .flag("--remeasure-latency", "Time the teacher's layers again and replace the registry's latency profile"),
      .flag("--force", "Let --out replace another kind of Tessera output (never files Tessera did not write)"),
    ] + GenerateCommand.generationFlags
  ) { arguments in
    var settings = try settings(from: arguments)
    // Checked now, before any model is loaded.
    var checked = GenerationOptions()
    try GenerateCommand.applyGenerationFlags(arguments, to: &checked)
    let registry = URL(fileURLWithPath: try arguments.require("--registry"))
    let calibrates = settings.transforms.joined().contains { if case .compress(let s) = $0 { s.method.needsCalibration } else { false } }
    let (examples, validation, name) = try comparisonExamples(arguments, validation: settings.measuredPlans > 0 || calibrates)
    settings.dataName = name
    try compare(
      ComparisonParameters(
        registryFolder: registry, teacherFolder: arguments.string("--teacher").map { URL(fileURLWithPath: $0) },
        examples: examples, validationExamples: validation, settings: settings,
        reportFolder: URL(fileURLWithPath: arguments.string("--out") ?? "compare-report"),
        saveModels: arguments.has("--save-models"), remeasureLatency: arguments.has("--remeasure-latency"),
        force: arguments.has("--force"), baselinesFolder: arguments.string("--baselines").map { URL(fileURLWithPath: $0) },
        adjustGeneration: { try GenerateCommand.applyGenerationFlags(arguments, to: &$0) }))
  }

  /// Measures the sweep with a progress bar, writes the report and prints the table; shared with `tessera demo`.
  static func compare(
    registry: ModuleRegistry, teacherFolder: URL, examples: [Example], settings: ComparisonSettings, out: URL,
    saveModels: Bool
  ) throws {
    try compare(
      ComparisonParameters(
        registryFolder: registry.folder, teacherFolder: teacherFolder, examples: examples, settings: settings,
        reportFolder: out, saveModels: saveModels))
  }

  /// Runs ``Comparison/run(_:progress:)`` with a progress bar and prints the table.
  static func compare(_ parameters: ComparisonParameters) throws {
    print("data: \(parameters.settings.dataName), \(parameters.examples.count) examples")
    var bar: ProgressBar?
    let results = try Comparison.run(parameters) { progress in
      switch progress.stage {
      case .warning: FileHandle.standardError.write(Data("warning: \(progress.label)\n".utf8))
      case .profiling: print("latency profile: timing one teacher layer per stack, to keep in the registry")
      default:
        guard progress.models > 0 else { return }
        if bar == nil { bar = ProgressBar(total: progress.models, label: "compare") }
        bar?.update(progress.modelsDone, detail: "\(progress.label): \(progress.stage.rawValue) \(progress.examplesDone)/\(progress.examples)")
      }
    }
    bar?.finish()
    let teacher = results.teacher
    print("""
      teacher: \(teacher.modelType) \(teacher.encoderDepth)+\(teacher.decoderDepth) layers, \
      \(teacher.parameters.formatted()) parameters; registry: \(results.registry.modules) modules
      """)
    print(ComparisonReport.table(results))
    if let ledger = results.ledger { print(ComparisonReport.ledgerSummary(ledger).joined(separator: "\n")) }
    if let out = parameters.reportFolder {
      print("wrote \(out.path)/{\(ComparisonReport.markdownFileName),\(ComparisonReport.jsonFileName),\(ComparisonReport.csvFileName),\(ComparisonReport.plotFileName)}")
    }
  }

  /// The sweep the flags ask for; a bad ratio, strategy or metric names its flag.
  static func settings(from arguments: ParsedArguments) throws -> ComparisonSettings {
    var settings = ComparisonSettings()
    settings.ratios = try (arguments.list("--ratios") ?? []).map { text in
      guard let ratio = Double(text), ratio.isFinite, ratio >= 1 else {
        throw UsageError("--ratios: '\(text)' is not a ratio; each must be a number ≥ 1 (e.g. 1.5,2,3)")
      }
      return ratio
    }
    settings.strategies = try (arguments.list("--strategies") ?? []).map { name in
      guard let strategy = AssemblyStrategy(rawValue: name) else {
        throw UsageError("--strategies: unknown strategy '\(name)'; one of \(AssemblyStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return strategy
    }
    guard !settings.ratios.isEmpty, !settings.strategies.isEmpty else { throw UsageError("--ratios and --strategies need at least one value") }
    let primary: (name: String, metric: TextMetric)
    do {
      primary = try ComparisonSettings.primaryMetric(parsing: arguments.string("--metric") ?? "em")
    } catch ComparisonError.invalidSetting(_, let reason) {
      throw UsageError("--metric: \(reason)")
    }
    settings.primaryMetric = primary.name
    settings.metrics = [.em, .chrf] + (primary.metric == .em || primary.metric == .chrf ? [] : [primary.metric])
    for (flag, keyPath) in [("--latency-examples", \ComparisonSettings.latencyExamples), ("--batch", \.throughputBatch)] {
      guard let value = try arguments.int(flag) else { continue }
      guard value >= 1 else { throw UsageError("\(flag) must be at least 1, got \(value)") }
      settings[keyPath: keyPath] = value
    }
    if let plans = try arguments.int("--measured-plans") { settings.measuredPlans = plans }
    settings.includeLayerDropping = !arguments.has("--no-layer-dropping")
    settings.quantize = try (arguments.list("--quantize") ?? []).map { name in
      guard let scheme = QuantizationScheme(rawValue: name) else {
        throw UsageError("--quantize: unknown scheme '\(name)'; one of \(QuantizationScheme.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return scheme
    }
    if let file = arguments.string("--transforms") { settings.transforms = try TransformStage.readChains(from: URL(fileURLWithPath: file)) }
    do { try settings.validate() } catch ComparisonError.invalidSetting(let field, let reason) {
      let flags = [
        "ratios": "--ratios", "strategies": "--strategies", "latency_examples": "--latency-examples",
        "throughput_batch": "--batch", "primary_metric": "--metric", "measured_plans": "--measured-plans",
        "quantize": "--quantize", "transforms": "--transforms",
      ]
      throw UsageError("\(flags[field] ?? field): \(reason)")
    }
    return settings
  }

  /// The most examples --count takes: far beyond what a comparison can time, short of exhausting memory.
  static let maximumCount = 1_000_000

  /// The first --count examples of the test split of --task or the data
  /// files, and (when `validation`) the first
  /// ``MeasuredAssemblyCandidate/validationCount`` of the validation split, which `measured` rows choose by.
  static func comparisonExamples(
    _ arguments: ParsedArguments, validation: Bool
  ) throws -> (test: [Example], validation: [Example], name: String) {
    var data = DatasetSpec()
    try DatasetOptions.apply(arguments, to: &data)
    let count = try arguments.int("--count") ?? 200
    guard (1...maximumCount).contains(count) else {
      throw UsageError("--count must be between 1 and \(maximumCount) (each example is generated and timed), got \(count)")
    }
    if arguments.string("--test-examples") == nil { data.testExamples = count }
    let examples = Array(try data.examples(.test).prefix(count))
    guard !examples.isEmpty else { throw UsageError("the test split of \(data.displayName) has no examples") }
    let held = validation ? Array(try data.examples(.valid).prefix(MeasuredAssemblyCandidate.validationCount)) : []
    return (examples, held, "\(data.displayName), test split")
  }
}
