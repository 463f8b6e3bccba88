/// The Unigram language model T5 uses: a vocabulary of pieces with
/// log-probability scores, and Viterbi search for the best-scoring split.
///
/// Follows Hugging Face's `Unigram` exactly: search over UTF-8 byte
/// positions, ties kept by the first path found, a character no piece covers
/// scored `min score - 10` as unknown, runs of unknowns fused into one token,
/// and byte fallback (`<0xAB>` pieces) for unknown text when enabled.
final class UnigramModel: Sendable {
  let pieces: [String]
  private let scores: [Double]
  private let idOfPiece: [[UInt8]: Int]
  private let trie: ByteTrie
  let unknownID: Int?
  private let byteFallbackIDs: [Int]?
  private let unknownScore: Double

  private static let unknownPenalty = 10.0

  init(_ field: JSONField) throws {
    var pieces: [String] = []
    var scores: [Double] = []
    for entry in try field["vocab"].array() {
      let pair = try entry.array()
      guard pair.count == 2 else { throw entry.error("expected [piece, score]") }
      pieces.append(try pair[0].string())
      scores.append(try pair[1].double())
    }
    guard !pieces.isEmpty else { throw field["vocab"].error("empty vocabulary") }
    let unknownID = try field["unk_id"].optionalInt()
    if let unknownID, !pieces.indices.contains(unknownID) {
      throw field["unk_id"].error("\(unknownID) is outside the \(pieces.count)-piece vocabulary")
    }
    var idOfPiece: [[UInt8]: Int] = [:]
    // A repeated piece maps to its last id, as in the reference.
    for (id, piece) in pieces.enumerated() { idOfPiece[Array(piece.utf8)] = id }
    self.pieces = pieces
    self.scores = scores
    self.idOfPiece = idOfPiece
    self.trie = ByteTrie(idOfPiece)
    self.unknownID = unknownID
    self.unknownScore = (scores.min() ?? 0) - Self.unknownPenalty
    if try field["byte_fallback"].bool(default: false) {
      let ids = (0..<256).map { idOfPiece[Array(byteFallbackPiece($0).utf8)] }
      self.byteFallbackIDs = ids.allSatisfy { $0 != nil } ? ids.map { $0! } : nil
    } else {
      self.byteFallbackIDs = nil
    }
  }

  /// The ids of one pre-tokenized piece, given as UTF-8.
  func tokenize(_ bytes: [UInt8]) -> [Int] {
    guard !bytes.isEmpty else { return [] }
    let count = bytes.count
    var bestScore = [Double](repeating: 0, count: count + 1)
    var bestStart = [Int](repeating: -1, count: count + 1)
    var bestID = [Int](repeating: -1, count: count + 1)
    var start = 0
    while start < count {
      let scoreSoFar = bestScore[start]
      let characterLength = utf8Length(leadByte: bytes[start])
      var coversCharacter = false
      // Every piece starting here, shortest first.
      var node = 0
      var end = start
      while end < count {
        node = trie.child(of: node, byte: bytes[end])
        if node < 0 { break }
        end += 1
        let id = trie.pieceID(at: node)
        guard id >= 0 else { continue }
        let candidate = scoreSoFar + scores[id]
        if bestStart[end] < 0 || candidate > bestScore[end] {
          bestScore[end] = candidate
          bestStart[end] = start
          bestID[end] = id
        }
        if end - start == characterLength { coversCharacter = true }
      }
      if !coversCharacter {
        end = min(count, start + characterLength)
        let candidate = scoreSoFar + unknownScore
        if bestStart[end] < 0 || candidate > bestScore[end] {
          bestScore[end] = candidate
          bestStart[end] = start
          bestID[end] = unknownID ?? -1
        }
      }
      start += characterLength
    }
    // Walk back from the end; consecutive unknowns fuse into one span.
    var spans: [PieceSpan] = []
    var end = count
    while end > 0 {
      let begin = bestStart[end]
      let id = bestID[end]
      if unknownID != nil, id == unknownID, let last = spans.last, last.id == id, last.start == end {
        spans[spans.count - 1].start = begin
      } else {
        spans.append(PieceSpan(start: begin, end: end, id: id))
      }
      end = begin
    }
    var ids: [Int] = []
    ids.reserveCapacity(spans.count)
    for span in spans.reversed() {
      // A piece found in the trie is its own id; unknown text is looked up
      // whole (as the reference does), then falls back to bytes or unk.
      if span.id >= 0, span.id != unknownID {
        ids.append(span.id)
        continue
      }
      let slice = Array(bytes[span.start..<span.end])
      if let id = idOfPiece[slice] {
        ids.append(id)
      } else if let byteFallbackIDs {
        ids += slice.map { byteFallbackIDs[Int($0)] }
      } else if let unknownID {
        ids.append(unknownID)
      }
    }
    return ids
  }

  func id(for token: String) -> Int? {
    idOfPiece[Array(token.utf8)]
  }
}

/// Bytes `start..<end` of a piece on the best path, and its id (-1 or the
/// unknown id for text no piece covers).
struct PieceSpan {
  var start: Int
  var end: Int
  var id: Int
}

/// `<0xAB>`: the piece that stands for one byte under byte fallback.
func byteFallbackPiece(_ byte: Int) -> String {
  let digits = Array("0123456789ABCDEF")
  return "<0x\(digits[byte >> 4])\(digits[byte & 15])>"
}

/// Length of a UTF-8 sequence from its first byte (1 for stray bytes).
func utf8Length(leadByte: UInt8) -> Int {
  switch leadByte {
  case 0xF0...: return 4
  case 0xE0...: return 3
  case 0xC0...: return 2
  default: return 1
  }
}

/// A trie over the UTF-8 bytes of the vocabulary, for finding every piece
/// that starts at a position in one pass.
struct ByteTrie: Sendable {
  private let transitions: FlatIntMap
  /// Piece id ending at each node, or -1.
  private let terminal: [Int32]

  init(_ ids: [[UInt8]: Int]) {
    var edges: [Int: Int32] = [:]
    var terminal: [Int32] = [-1]
    for (bytes, id) in ids where !bytes.isEmpty {
      var node = 0
      for byte in bytes {
        let key = node << 8 | Int(byte)
        if let child = edges[key] {
          node = Int(child)
        } else {
          edges[key] = Int32(terminal.count)
          node = terminal.count
          terminal.append(-1)
        }
      }
      terminal[node] = Int32(id)
    }
    self.transitions = FlatIntMap(edges)
    self.terminal = terminal
  }

  /// The node reached from `node` by `byte`, or -1.
  @inline(__always)
  func child(of node: Int, byte: UInt8) -> Int {
    Int(transitions[node << 8 | Int(byte)])
  }

  /// The id of the piece ending at `node`, or -1.
  @inline(__always)
  func pieceID(at node: Int) -> Int {
    Int(terminal[node])
  }
}

/// A read-only open-addressing hash map from non-negative `Int` to `Int32`:
/// several times faster than `Dictionary` for the trie's hot loop.
struct FlatIntMap: Sendable {
  private let keys: [Int]
  private let values: [Int32]
  private let shift: Int

  init(_ entries: [Int: Int32]) {
    var bits = 4
    while 1 << bits < entries.count * 2 { bits += 1 }
    var keys = [Int](repeating: -1, count: 1 << bits)
    var values = [Int32](repeating: -1, count: 1 << bits)
    shift = 64 - bits
    let mask = (1 << bits) - 1
    for (key, value) in entries {
      var slot = Self.slot(key, shift: shift)
      while keys[slot] >= 0 { slot = (slot + 1) & mask }
      keys[slot] = key
      values[slot] = value
    }
    self.keys = keys
    self.values = values
  }

  @inline(__always)
  private static func slot(_ key: Int, shift: Int) -> Int {
    Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(key)) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
  }

  /// The value for `key`, or -1.
  @inline(__always)
  subscript(key: Int) -> Int32 {
    let mask = keys.count - 1
    var slot = Self.slot(key, shift: shift)
    while true {
      let found = keys[slot]
      if found == key { return values[slot] }
      if found < 0 { return -1 }
      slot = (slot + 1) & mask
    }
  }
}
