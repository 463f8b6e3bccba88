import Foundation
import TensorCore
import Tokenizers

/// Model inputs that do not fit the model: ids outside the vocabulary,
/// masks that are not 0/1, lengths that do not match, a tokenizer larger
/// than the embedding table.
public enum ModelInputError: Error, CustomStringConvertible, Equatable {
  /// `field[index]` is `id`, outside `0..<vocabularySize`.
  case tokenOutOfRange(field: String, index: Int, id: Int, vocabularySize: Int)
  /// `field[index]` should be a whole-number token id.
  case nonIntegralID(field: String, index: Int, value: Float)
  /// `field[index]` should be 0 or 1.
  case invalidMask(field: String, index: Int, value: Float)
  /// `field` has `found` entries where its shape needs `expected`.
  case wrongCount(field: String, expected: Int, found: Int)
  /// Rows of `field` are `length` long; the model's learned positions allow `limit`.
  case sequenceTooLong(field: String, length: Int, limit: Int)
  /// The pass would need `needed` of memory, more than the machine's `available`.
  case tooLarge(needed: String, available: String)
  /// The tokenizer can produce ids the model has no embedding for.
  case tokenizerTooLarge(tokenizer: String, tokenizerSize: Int, model: String, vocabularySize: Int)

  public var description: String {
    switch self {
    case .tokenOutOfRange(let field, let index, let id, let size):
      "\(field)[\(index)]: token id \(id) is outside the vocabulary 0..<\(size)"
    case .nonIntegralID(let field, let index, let value): "\(field)[\(index)]: \(value) is not a token id (a whole number)"
    case .invalidMask(let field, let index, let value): "\(field)[\(index)]: a mask holds 0 or 1, got \(value)"
    case .wrongCount(let field, let expected, let found): "\(field) has \(found) entries, its shape needs \(expected)"
    case .sequenceTooLong(let field, let length, let limit):
      "\(field): rows of \(length) tokens are longer than the model's \(limit) positions"
    case .tooLarge(let needed, let available):
      "the batch would need about \(needed) of memory; this machine has \(available)"
    case .tokenizerTooLarge(let tokenizer, let tokenizerSize, let model, let size):
      "\(tokenizer) has \(tokenizerSize) tokens but the model in \(model) only \(size) embeddings"
    }
  }
}

/// Range and shape checks run before ids reach an embedding table.
public enum ModelInputChecks {
  /// Throws for the first id of `ids` outside `0..<vocabularySize`; `field` names the input.
  public static func tokenIDs(_ ids: [Int], field: String, vocabularySize: Int, allowing allowed: Int? = nil) throws {
    if let index = ids.firstIndex(where: { ($0 < 0 || $0 >= vocabularySize) && $0 != allowed }) {
      throw ModelInputError.tokenOutOfRange(field: field, index: index, id: ids[index], vocabularySize: vocabularySize)
    }
  }

  /// Token ids stored as floats (as recorded inputs are), each a whole number in range.
  public static func tokenIDs(fromScalars scalars: [Float], field: String, vocabularySize: Int) throws -> [Int] {
    var ids: [Int] = []
    ids.reserveCapacity(scalars.count)
    for (index, value) in scalars.enumerated() {
      guard value.isFinite, value.rounded() == value, abs(value) < 0x1p53 else {
        throw ModelInputError.nonIntegralID(field: field, index: index, value: value)
      }
      ids.append(Int(value))
    }
    try tokenIDs(ids, field: field, vocabularySize: vocabularySize)
    return ids
  }

  /// Throws unless every entry of `mask` is 0 or 1.
  public static func keepMask(_ mask: [Float], field: String) throws {
    if let index = mask.firstIndex(where: { $0 != 0 && $0 != 1 }) {
      throw ModelInputError.invalidMask(field: field, index: index, value: mask[index])
    }
  }

  static func count(_ found: Int, _ field: String, expected: Int) throws {
    guard found == expected else { throw ModelInputError.wrongCount(field: field, expected: expected, found: found) }
  }

  /// Refuses a tokenizer that can produce ids the model has no embedding
  /// row for; `tokenizerFile` and `modelFolder` name the two in the error.
  public static func tokenizer(
    _ tokenizer: any TextTokenizer, fits model: any Seq2SeqModel, tokenizerFile: String, modelFolder: String
  ) throws {
    guard tokenizer.vocabularySize <= model.vocabularySize else {
      throw ModelInputError.tokenizerTooLarge(
        tokenizer: tokenizerFile, tokenizerSize: tokenizer.vocabularySize, model: modelFolder, vocabularySize: model.vocabularySize)
    }
  }
}

extension Seq2SeqModel {
  /// Checks a batch before it reaches the model: lengths match the batch's
  /// shape, ids are inside the vocabulary (labels may also be -100), masks
  /// are 0/1 and sources fit the model's positions.
  public func validate(_ batch: Seq2SeqBatch) throws {
    let sources = batch.batchSize * batch.sourceLength, targets = batch.batchSize * batch.targetLength
    try ModelInputChecks.count(batch.sourceIDs.count, "sourceIDs", expected: sources)
    try ModelInputChecks.count(batch.sourceKeep.count, "sourceKeep", expected: sources)
    try ModelInputChecks.count(batch.decoderInputIDs.count, "decoderInputIDs", expected: targets)
    try ModelInputChecks.count(batch.labels.count, "labels", expected: targets)
    try ModelInputChecks.tokenIDs(batch.sourceIDs, field: "sourceIDs", vocabularySize: vocabularySize)
    try ModelInputChecks.tokenIDs(batch.decoderInputIDs, field: "decoderInputIDs", vocabularySize: vocabularySize)
    try ModelInputChecks.tokenIDs(batch.labels, field: "labels", vocabularySize: vocabularySize, allowing: -100)
    try ModelInputChecks.keepMask(batch.sourceKeep, field: "sourceKeep")
    if let decoderKeep = batch.decoderKeep {
      try ModelInputChecks.count(decoderKeep.count, "decoderKeep", expected: targets)
      try ModelInputChecks.keepMask(decoderKeep, field: "decoderKeep")
    }
    if let limit = positionLimit {
      for (field, length) in [("sourceIDs", batch.sourceLength), ("decoderInputIDs", batch.targetLength)] where length > limit {
        throw ModelInputError.sequenceTooLong(field: field, length: length, limit: limit)
      }
    }
  }

  /// Teacher-forced logits `[B, T, V]` after ``validate(_:)`` and a check
  /// that the pass fits in memory: the entry point for inputs from outside
  /// (files, users).
  public func checkedForward(
    _ batch: Seq2SeqBatch, physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory
  ) throws -> Tensor {
    try validate(batch)
    let (rows, source, target) = (Double(batch.batchSize), Double(batch.sourceLength), Double(batch.targetLength))
    // Attention scores and their softmax (up to 64 heads' worth), hidden states, logits.
    let scores = 2 * rows * (source * source + target * target + target * source) * min(Double(modelWidth), 64)
    let activations = 8 * rows * (source + target) * Double(modelWidth) + 2 * rows * target * Double(vocabularySize)
    let bytes = 4 * (scores + activations)
    if bytes > Double(physicalMemory) {
      throw ModelInputError.tooLarge(
        needed: ConfigurationChecks.formatBytes(bytes), available: ConfigurationChecks.formatBytes(Double(physicalMemory)))
    }
    return withoutGradient { forward(batch) }
  }
}
