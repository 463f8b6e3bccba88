/// A `tokenizer.json` post-processor: the special tokens put around one
/// encoded sequence.
indirect enum PostProcessor: Sendable {
  /// `TemplateProcessing`'s single-sequence template, flattened: `nil` marks
  /// where the sequence goes, other entries are special-token ids.
  case template([Int?])
  /// `RobertaProcessing` / `BertProcessing`: `cls … sep`.
  case wrap(prefix: Int, suffix: Int)
  /// Changes offsets only (`ByteLevel`), not ids.
  case none
  case sequence([PostProcessor])

  init(_ field: JSONField) throws {
    let type = try field["type"].string()
    switch type {
    case "TemplateProcessing":
      self = .template(try Self.template(field))
    case "RobertaProcessing", "BertProcessing":
      self = .wrap(prefix: try Self.tokenID(field["cls"]), suffix: try Self.tokenID(field["sep"]))
    case "ByteLevel":
      self = .none
    case "Sequence":
      self = .sequence(try field["processors"].array().map(PostProcessor.init))
    default:
      throw field["type"].error("unsupported post-processor type \"\(type)\"")
    }
  }

  /// `["</s>", 2]`: the id of a `cls` / `sep` entry.
  private static func tokenID(_ field: JSONField) throws -> Int {
    let pair = try field.array()
    guard pair.count == 2 else { throw field.error("expected [token, id]") }
    return try pair[1].int()
  }

  private static func template(_ field: JSONField) throws -> [Int?] {
    var specialIDs: [String: [Int]] = [:]
    for (name, special) in try field["special_tokens"].members() {
      specialIDs[name] = try special["ids"].array().map { try $0.int() }
    }
    var pieces: [Int?] = []
    for piece in try field["single"].array() {
      if !piece["Sequence"].isAbsent {
        pieces.append(nil)
      } else if !piece["SpecialToken"].isAbsent {
        let name = try piece["SpecialToken"]["id"].string()
        guard let ids = specialIDs[name] else {
          throw piece["SpecialToken"]["id"].error("\"\(name)\" is not listed in special_tokens")
        }
        pieces += ids.map { Optional($0) }
      } else {
        throw piece.error("expected {\"Sequence\": …} or {\"SpecialToken\": …}")
      }
    }
    return pieces
  }

  func process(_ ids: [Int]) -> [Int] {
    switch self {
    case .template(let pieces):
      return pieces.flatMap { $0.map { [$0] } ?? ids }
    case .wrap(let prefix, let suffix):
      return [prefix] + ids + [suffix]
    case .none:
      return ids
    case .sequence(let steps):
      return steps.reduce(ids) { $1.process($0) }
    }
  }

  /// How many ids `process` adds.
  var addedCount: Int {
    process([]).count
  }
}
