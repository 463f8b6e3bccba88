import Foundation
import Seq2SeqModels
import Tokenizers

/// `tessera generate`: greedy or beam-search outputs of a model folder for texts.
enum GenerateCommand {
  static let command = Command(
    path: ["generate"],
    summary: "Generate outputs for texts with a model folder (greedy or beam search)",
    discussion: """
      Texts come from the arguments, or, when there are none, one per line from
      standard input. Each is tokenized with the folder's tokenizer.json (special
      tokens added), and one decoded output is printed per input, in order
      (line breaks inside an output become spaces). Decoding follows Hugging
      Face's generate: the same options give the same tokens.

      The settings of the folder's generation_config.json (or, without one,
      the generation fields of its config.json) apply as in Hugging Face:
      beams, lengths, no_repeat_ngram_size, repetition_penalty, forced tokens,
      special ids. Each flag below overrides its setting; without either,
      Hugging Face's defaults apply (greedy, 20 new tokens).

      EXAMPLES:
        tessera generate --model teachers/arith "12 + 30"
        tessera generate --model teachers/t5-small --beams 4 --max-new-tokens 40 < inputs.txt
      """,
    positionals: [Positional(name: "TEXT", help: "Input texts (default: lines of standard input)", isOptional: true, isVariadic: true)],
    options: [
      .value("--model", "DIR", "Model folder with config.json, model.safetensors and tokenizer.json (required)"),
    ] + generationFlags + [
      .value("--batch-size", "N", "Inputs decoded together", default: "16"),
      .value("--max-source-tokens", "N", "Longer inputs are refused (and BART's position limit applies)", default: "512"),
    ]
  ) { arguments in
    let batchSize = try arguments.int("--batch-size") ?? 16
    guard batchSize > 0 else { throw UsageError("--batch-size must be positive, got \(batchSize)") }
    let folder = URL(fileURLWithPath: try arguments.require("--model"))
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw GenerateCommandError("model folder \(folder.path) does not exist")
    }
    let model = try ModelLoading.load(from: folder)
    let options = try generationOptions(arguments, model: model, folder: folder)
    try checkOptions(options, for: model)
    let tokenizer = try loadTokenizer(from: folder)
    try ModelInputChecks.tokenizer(
      tokenizer, fits: model, tokenizerFile: folder.appendingPathComponent(tokenizerFileName).path, modelFolder: folder.path)
    let texts = arguments.positionals.isEmpty ? try readStandardInput() : arguments.positionals
    let eos = options.specialTokens?.eos ?? model.specialTokens.eos
    for start in stride(from: 0, to: texts.count, by: batchSize) {
      let chunk = texts[start..<min(start + batchSize, texts.count)]
      let sources = chunk.map { tokenizer.encode($0) }
      let rows: [[Int]]
      do {
        rows = try generate(model, sources: sources, options: options)
      } catch let error as GenerationError {
        throw describe(error, firstInput: start + 1, options: options)
      }
      for row in rows {
        // Column 0 is the decoder start token; the output ends at the first EOS.
        let generated = row.dropFirst().prefix { $0 != eos }
        let text = tokenizer.decode(Array(generated), skipSpecialTokens: true)
        print(text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " "))
      }
      fflush(nil)  // outputs appear batch by batch when piped
    }
  }

  /// The flags that override a model folder's generation settings (no
  /// defaults here: an absent flag leaves the folder's setting).
  static let generationFlags: [Option] = [
    .value("--beams", "N", "Beams; 1 is greedy search (default: the folder's num_beams, else 1)"),
    .value("--max-new-tokens", "N", "Most tokens generated per input (default: the folder's max_new_tokens or max_length − 1, else 20)"),
    .value("--min-new-tokens", "N", "End of sequence is blocked before this many tokens (default: the folder's, else 0)"),
    .value("--length-penalty", "X", "Beam scores divide by length^X (default: the folder's, else 1)"),
    .value("--early-stopping", "MODE", "Beam search: true, false or never, as Hugging Face (default: the folder's, else false)"),
    .value("--no-repeat-ngram-size", "N", "No n-gram of this size repeats in an output; 0 is off (default: the folder's, else 0)"),
    .value("--repetition-penalty", "X", "Scores of tokens already generated are divided by X; 1 is off (default: the folder's, else 1)"),
  ]

  /// Generation options for `model` in `folder`: Hugging Face's defaults,
  /// then the folder's generation settings, then the flags given.
  static func generationOptions(
    _ arguments: ParsedArguments, model: any Seq2SeqModel, folder: URL, base: GenerationOptions = GenerationOptions()
  ) throws -> GenerationOptions {
    var options = base
    try GenerationSettings.read(folder: folder)?.apply(to: &options, model: model)
    try applyGenerationFlags(arguments, to: &options)
    return options
  }

  /// Sets the options whose flags were given, checking each value.
  static func applyGenerationFlags(_ arguments: ParsedArguments, to options: inout GenerationOptions) throws {
    func atLeast(_ flag: String, _ minimum: Int) throws -> Int? {
      guard let value = try arguments.int(flag) else { return nil }
      guard value >= minimum else { throw UsageError("\(flag) must be at least \(minimum), got \(value)") }
      return value
    }
    options.numBeams = try atLeast("--beams", 1) ?? options.numBeams
    options.maxNewTokens = try atLeast("--max-new-tokens", 0) ?? options.maxNewTokens
    options.minNewTokens = try atLeast("--min-new-tokens", 0) ?? options.minNewTokens
    options.noRepeatNgramSize = try atLeast("--no-repeat-ngram-size", 0) ?? options.noRepeatNgramSize
    options.lengthPenalty = try arguments.double("--length-penalty").map(Float.init) ?? options.lengthPenalty
    if let penalty = try arguments.double("--repetition-penalty") {
      guard penalty > 0 else { throw UsageError("--repetition-penalty must be greater than 0, got \(penalty)") }
      options.repetitionPenalty = Float(penalty)
    }
    options.maxSourceTokens = try atLeast("--max-source-tokens", 1) ?? options.maxSourceTokens
    switch arguments.string("--early-stopping") {
    case nil: break
    case "true": options.earlyStopping = .whenBeamsFinished
    case "false": options.earlyStopping = .heuristic
    case "never": options.earlyStopping = .never
    case let other?: throw UsageError("--early-stopping must be true, false or never, got '\(other)'")
    }
  }

  /// The flag that sets a ``GenerationOptions`` property.
  static func flag(forOption name: String) -> String {
    switch name {
    case "numBeams": "--beams"
    case "maxNewTokens": "--max-new-tokens"
    case "minNewTokens": "--min-new-tokens"
    case "lengthPenalty": "--length-penalty"
    case "maxSourceTokens": "--max-source-tokens"
    case "noRepeatNgramSize": "--no-repeat-ngram-size"
    case "repetitionPenalty": "--repetition-penalty"
    case "earlyStopping": "--early-stopping"
    default: name
    }
  }

  /// A generation error in the words of the command line: inputs counted
  /// from `firstInput`, settings named by their flags.
  static func describe(_ error: GenerationError, firstInput: Int, options: GenerationOptions) -> Error {
    switch error {
    case .emptySource(let index): return GenerateCommandError("input \(firstInput + index) has no tokens after tokenization")
    case .tokenOutOfRange(let index, let token, let size):
      return GenerateCommandError("input \(firstInput + index): token id \(token) is outside the vocabulary 0..<\(size)")
    case .invalidOption(let name, let reason): return UsageError("\(flag(forOption: name)): \(reason)")
    case .sourceTooLong(let index, let tokens, let limit, let reason):
      let hint = limit == options.maxSourceTokens ? "; raise --max-source-tokens to allow it" : ""
      return GenerateCommandError("input \(firstInput + index) has \(tokens) tokens, more than \(limit) (\(reason))\(hint)")
    }
  }

  /// Checks `options` against `model`, naming the flag of a bad setting.
  static func checkOptions(_ options: GenerationOptions, for model: any Seq2SeqModel) throws {
    do { try options.validate(for: model) } catch let error as GenerationError {
      throw describe(error, firstInput: 1, options: options)
    }
  }

  /// Standard input, one text a line (a trailing carriage return is
  /// dropped); bytes that are not UTF-8 are an error naming their offset.
  static func readStandardInput() throws -> [String] {
    try TextLines.decode(FileHandle.standardInput.readDataToEndOfFile(), source: "standard input")
  }
}

/// A model folder or input that `tessera generate` cannot use.
struct GenerateCommandError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
