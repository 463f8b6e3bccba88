import AttentionKernels
import Foundation
import NeuralLayers
import TensorCore

/// When beam search stops adding finished hypotheses, as the reference's `early_stopping`.
public enum EarlyStopping: Sendable, Equatable, ExpressibleByBooleanLiteral {
  /// `True`: an input is done as soon as it has `numBeams` finished hypotheses.
  case whenBeamsFinished
  /// `False` (the default): done when the best running beam, scored at its
  /// current length, cannot beat the worst finished hypothesis.
  case heuristic
  /// `"never"`: like `heuristic`, but with a positive length penalty the best
  /// running beam is scored as if it ran to the maximum length.
  case never

  public init(booleanLiteral value: Bool) { self = value ? .whenBeamsFinished : .heuristic }
}

/// Tokens forced at the first or the last step.
public enum ForcedTokens: Sendable, Equatable {
  /// What the model's configuration says (BART's `forced_bos_token_id` and
  /// `forced_eos_token_id`, which the reference's `generate` honours).
  case fromModel
  /// These tokens (nil: nothing forced).
  case custom(bos: Int?, eos: Int?)
}

/// Settings of ``generate(_:sources:options:)``; names and defaults follow the reference's `GenerationConfig`.
public struct GenerationOptions: Sendable, Equatable {
  /// Tokens to generate at most after the decoder start token.
  public var maxNewTokens = 20
  /// End of sequence is suppressed until this many tokens were generated.
  public var minNewTokens = 0
  /// 1: greedy search; more: beam search with this many beams.
  public var numBeams = 1
  /// A finished hypothesis scores `sum of log-probabilities / generated length ^ lengthPenalty`
  /// (the length counts generated tokens, end of sequence included).
  public var lengthPenalty: Float = 1
  public var earlyStopping: EarlyStopping = false
  public var forcedTokens: ForcedTokens = .fromModel
  /// Longer sources are refused (nil: only the model's own position limit
  /// applies). Attention over a source costs memory growing with the square
  /// of its length, so models without learned positions need a bound too.
  public var maxSourceTokens: Int?
  /// No n-gram of this size occurs twice in an output (0: off), as the reference's `no_repeat_ngram_size`.
  public var noRepeatNgramSize = 0
  /// Scores of tokens already in the output are divided by this (multiplied
  /// where negative), as the reference's `repetition_penalty`; 1: off.
  public var repetitionPenalty: Float = 1
  /// Decoder start, end-of-sequence and pad ids (nil: the model's).
  public var specialTokens: SpecialTokenIDs?

  public init(
    maxNewTokens: Int = 20, minNewTokens: Int = 0, numBeams: Int = 1, lengthPenalty: Float = 1,
    earlyStopping: EarlyStopping = false, forcedTokens: ForcedTokens = .fromModel, maxSourceTokens: Int? = nil
  ) {
    self.maxSourceTokens = maxSourceTokens
    self.maxNewTokens = maxNewTokens
    self.minNewTokens = minNewTokens
    self.numBeams = numBeams
    self.lengthPenalty = lengthPenalty
    self.earlyStopping = earlyStopping
    self.forcedTokens = forcedTokens
  }
}

extension GenerationOptions {
  /// Throws ``GenerationError/invalidOption(name:reason:)`` for a setting
  /// `generate` would refuse with `model`, so that callers can check before a run.
  public func validate(for model: any Seq2SeqModel) throws {
    try GenerationRun.validate(self, model: model)
  }

  /// Throws unless every source is non-empty, inside the vocabulary and no
  /// longer than the model's positions and ``maxSourceTokens`` allow.
  public func checkSources(_ sources: [[Int]], for model: any Seq2SeqModel) throws {
    let vocabulary = model.vocabularySize
    let limits = [
      model.positionLimit.map { ($0, "the model's learned positions") },
      maxSourceTokens.map { ($0, "the maximum source length") },
    ].compactMap { $0 }
    let limit = limits.min { $0.0 < $1.0 }
    for (index, source) in sources.enumerated() {
      if source.isEmpty { throw GenerationError.emptySource(index: index) }
      if let bad = source.first(where: { $0 < 0 || $0 >= vocabulary }) {
        throw GenerationError.tokenOutOfRange(source: index, token: bad, vocabularySize: vocabulary)
      }
      if let (limit, reason) = limit, source.count > limit {
        throw GenerationError.sourceTooLong(index: index, tokens: source.count, limit: limit, reason: reason)
      }
    }
  }
}

/// Inputs or settings that generation cannot work with.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
  case emptySource(index: Int)
  case tokenOutOfRange(source: Int, token: Int, vocabularySize: Int)
  case invalidOption(name: String, reason: String)
  /// Source `index` has `tokens` tokens, more than `limit`; `reason` says whose limit.
  case sourceTooLong(index: Int, tokens: Int, limit: Int, reason: String)

  public var description: String {
    switch self {
    case .emptySource(let index): "source \(index) has no tokens"
    case .tokenOutOfRange(let source, let token, let size): "source \(source): token id \(token) is outside the vocabulary 0..<\(size)"
    case .invalidOption(let name, let reason): "generation option \(name): \(reason)"
    case .sourceTooLong(let index, let tokens, let limit, let reason):
      "source \(index) has \(tokens) tokens, more than \(limit) (\(reason))"
    }
  }
}

/// Generates a continuation of every source with greedy or beam search.
///
/// `sources` are unpadded token id lists (end of sequence included, as a
/// tokenizer makes them); they are right-padded together and encoded once.
/// Each result starts with the decoder start token, and rows are padded to
/// the longest one, exactly as the reference's `generate` returns them:
/// greedy pads with the pad id; beam search with the pad id unless it is 0,
/// then with end of sequence (the reference's `pad_token_id or eos_token_id`).
public func generate(
  _ model: any Seq2SeqModel, sources: [[Int]], options: GenerationOptions = GenerationOptions()
) throws -> [[Int]] {
  guard !sources.isEmpty else { return [] }
  return try GenerationRun(model: model, sources: sources, options: options).outputs()
}

/// What greedy and beam search share: the padded sources, the encoder output,
/// the logit rules and one decoder step with the KV cache.
struct GenerationRun {
  let model: any Seq2SeqModel
  let options: GenerationOptions
  let tokens: SpecialTokenIDs
  let batchSize: Int
  let sourceLength: Int
  let sourceIDs: [Int]
  let sourceKeep: [Float]
  let rules: LogitRules
  /// Off: every step reruns the decoder on the whole prefix (tests check the cache against it).
  let usesCache: Bool

  init(model: any Seq2SeqModel, sources: [[Int]], options: GenerationOptions, usesCache: Bool = true) throws {
    try GenerationRun.validate(options, model: model)
    try options.checkSources(sources, for: model)
    self.model = model
    self.options = options
    self.usesCache = usesCache
    tokens = options.specialTokens ?? model.specialTokens
    batchSize = sources.count
    sourceLength = sources.map(\.count).max()!
    try GenerationRun.requireMemory(model: model, options: options, batchSize: batchSize, sourceLength: sourceLength)
    var ids: [Int] = [], keep: [Float] = []
    for source in sources {
      let padding = sourceLength - source.count
      ids += source + [Int](repeating: tokens.pad, count: padding)
      keep += [Float](repeating: 1, count: source.count) + [Float](repeating: 0, count: padding)
    }
    sourceIDs = ids
    sourceKeep = keep
    let forced: (bos: Int?, eos: Int?) =
      switch options.forcedTokens {
      case .fromModel: model.forcedTokenIDs
      case .custom(let bos, let eos): (bos, eos)
      }
    rules = LogitRules(
      eos: tokens.eos, minNewTokens: options.minNewTokens, maxNewTokens: options.maxNewTokens, forcedBOS: forced.bos,
      forcedEOS: forced.eos, noRepeatNgramSize: options.noRepeatNgramSize, repetitionPenalty: options.repetitionPenalty)
  }

  static func validate(_ options: GenerationOptions, model: any Seq2SeqModel) throws {
    if options.maxNewTokens < 0 { throw GenerationError.invalidOption(name: "maxNewTokens", reason: "must be ≥ 0") }
    if options.minNewTokens < 0 { throw GenerationError.invalidOption(name: "minNewTokens", reason: "must be ≥ 0") }
    if options.numBeams < 1 { throw GenerationError.invalidOption(name: "numBeams", reason: "must be ≥ 1") }
    if options.numBeams > model.vocabularySize {
      throw GenerationError.invalidOption(
        name: "numBeams", reason: "\(options.numBeams) beams exceed the \(model.vocabularySize)-token vocabulary")
    }
    if let limit = options.maxSourceTokens, limit < 1 {
      throw GenerationError.invalidOption(name: "maxSourceTokens", reason: "must be ≥ 1")
    }
    if !options.lengthPenalty.isFinite {
      throw GenerationError.invalidOption(name: "lengthPenalty", reason: "must be a finite number")
    }
    if options.noRepeatNgramSize < 0 {
      throw GenerationError.invalidOption(name: "noRepeatNgramSize", reason: "must be ≥ 0")
    }
    if !(options.repetitionPenalty.isFinite && options.repetitionPenalty > 0) {
      throw GenerationError.invalidOption(name: "repetitionPenalty", reason: "must be a finite number > 0")
    }
    if let tokens = options.specialTokens {
      for (name, id) in [("decoderStart", tokens.decoderStart), ("eos", tokens.eos), ("pad", tokens.pad)]
      where id < 0 || id >= model.vocabularySize {
        throw GenerationError.invalidOption(name: "specialTokens", reason: "\(name) token id \(id) is outside the vocabulary")
      }
    }
    if let limit = model.positionLimit, options.maxNewTokens > limit {
      throw GenerationError.invalidOption(
        name: "maxNewTokens", reason: "\(options.maxNewTokens) new tokens need more than the model's \(limit) positions")
    }
    if case .custom(let bos, let eos) = options.forcedTokens {
      for id in [bos, eos].compactMap({ $0 }) where id < 0 || id >= model.vocabularySize {
        throw GenerationError.invalidOption(name: "forcedTokens", reason: "token id \(id) is outside the vocabulary")
      }
    }
  }

  /// Refuses a search whose working set (decoder caches, logits and the
  /// encoder's attention scores, roughly) would not fit in this machine's
  /// memory, before anything is allocated.
  static func requireMemory(
    model: any Seq2SeqModel, options: GenerationOptions, batchSize: Int, sourceLength: Int,
    physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory
  ) throws {
    let rows = Double(batchSize) * Double(options.numBeams)
    let (width, source) = (Double(model.modelWidth), Double(sourceLength))
    let caches = Double(model.decoder.depth) * rows * 2 * (Double(options.maxNewTokens) + 1 + source) * width
    let logits = 4 * rows * Double(model.vocabularySize)
    // Scores [B, H, S, S] plus their softmax; H·S·S is at most C·S·S for the widths in use.
    let encoderScores = 2 * Double(batchSize) * source * source * min(width, 64)
    let bytes = 4 * (caches + logits + encoderScores)
    guard bytes > Double(physicalMemory) else { return }
    let name = options.numBeams > 1 ? "numBeams" : (options.maxNewTokens > sourceLength ? "maxNewTokens" : "sources")
    throw GenerationError.invalidOption(
      name: name,
      reason: "\(batchSize) source(s) of up to \(sourceLength) tokens with \(options.numBeams) beam(s) would need about "
        + "\(ConfigurationChecks.formatBytes(bytes)) of memory; this machine has \(ConfigurationChecks.formatBytes(Double(physicalMemory)))")
  }

  /// The encoder output `[B, S, C]`, each row repeated `copies` times.
  func encode(copies: Int) -> (memory: Tensor, keep: [Float]) {
    let memory = model.encoder.forward(sourceIDs, batch: batchSize, length: sourceLength, keep: sourceKeep)
    guard copies > 1 else { return (memory, sourceKeep) }
    let rows = (0..<batchSize).flatMap { [Int](repeating: $0, count: copies) }
    let keep = rows.flatMap { sourceKeep[($0 * sourceLength)..<(($0 + 1) * sourceLength)] }
    return (memory.selectingRows(rows), keep)
  }

  /// Greedy or beam search, as the options say.
  func outputs() -> [[Int]] {
    withoutGradient { options.numBeams == 1 ? greedy() : BeamSearch(run: self).search() }
  }

  /// Next-token logits `[N, V]` after `prefixes` (N rows of equal length,
  /// decoder start first); with the cache only their last tokens are new.
  func decodeStep(_ prefixes: [[Int]], memory: Tensor, memoryKeep: [Float], caches: [BlockCache]) -> Tensor {
    let (rows, length) = (prefixes.count, prefixes[0].count)
    let output: Tensor
    if usesCache {
      output = model.decoder.forward(
        prefixes.map { $0.last! }, batch: rows, length: 1, keep: nil, memory: memory, memoryKeep: memoryKeep,
        caches: caches, pastLength: length - 1)
    } else {
      output = model.decoder.forward(
        prefixes.flatMap { $0 }, batch: rows, length: length, keep: nil, memory: memory, memoryKeep: memoryKeep
      ).slice(axis: 1, (length - 1)..<length)
    }
    return model.logits(output).reshaped([rows, model.vocabularySize])
  }

  /// Greedy search: the best token each step; rows that produced end of
  /// sequence continue with the pad id until every row has finished.
  func greedy() -> [[Int]] {
    let (memory, keep) = encode(copies: 1)
    let caches = model.decoder.blocks.map { _ in BlockCache() }
    var outputs = [[Int]](repeating: [tokens.decoderStart], count: batchSize)
    var isRunning = [Bool](repeating: true, count: batchSize)
    let vocabulary = model.vocabularySize
    for _ in 0..<options.maxNewTokens {
      // The rules change the logits in place (no copy of [B, V] a step).
      var scores = decodeStep(outputs, memory: memory, memoryKeep: keep, caches: caches)
      scores.withMutableValues { all in
        for row in 0..<batchSize {
          rules.apply(to: UnsafeMutableBufferPointer(rebasing: all[(row * vocabulary)..<((row + 1) * vocabulary)]), prefix: outputs[row])
        }
      }
      let best = scores.greedyChoices()
      for row in 0..<batchSize {
        let next = isRunning[row] ? best[row] : tokens.pad
        outputs[row].append(next)
        if next == tokens.eos { isRunning[row] = false }
      }
      if !isRunning.contains(true) { break }
    }
    return outputs
  }
}

extension Tensor {
  /// Rows `rows` of the first axis, in that order (repeats allowed).
  func selectingRows(_ rows: [Int]) -> Tensor {
    let rest = Array(shape.dropFirst())
    return reshaped([shape[0], count / shape[0]]).gatherRows(rows).reshaped([rows.count] + rest)
  }
}

extension Tensor {
  /// The index of the largest logit of each row `[N, V]` (as ``argmaxLastAxis()``, vectorised).
  func greedyChoices() -> [Int] {
    let (rows, vocabulary) = (shape[0], shape[1])
    var best = [Int](repeating: 0, count: rows)
    withValues { logits in
      best.withUnsafeMutableBufferPointer { ta_argmax_rows(logits.baseAddress, rows, vocabulary, $0.baseAddress) }
    }
    return best
  }
}
