import Foundation

/// Byte-pair encoding as BART uses it: a vocabulary and a ranked list of
/// merges, applied to each pre-tokenized word lowest rank first (leftmost
/// first among equal ranks), as Hugging Face's `BPE` does.
final class BPEModel: Sendable {
  private let idOfToken: [[UInt8]: Int]
  /// Merge of the pair `left << 32 | right`: its rank and the merged id.
  private let merges: [UInt64: (rank: Int32, id: Int32)]
  let unknownToken: String?
  private let continuingSubwordPrefix: String?
  private let endOfWordSuffix: String?
  private let fuseUnknown: Bool
  private let byteFallback: Bool
  private let ignoreMerges: Bool
  private let cache = WordCache()
  let tokens: [Int: String]

  init(_ field: JSONField) throws {
    var idOfToken: [[UInt8]: Int] = [:]
    var tokens: [Int: String] = [:]
    for (token, idField) in try field["vocab"].members() {
      let id = try idField.int()
      guard id >= 0 else { throw idField.error("negative id") }
      idOfToken[Array(token.utf8)] = id
      tokens[id] = token
    }
    // An empty vocabulary would encode every text to nothing.
    guard !tokens.isEmpty else { throw field["vocab"].error("empty vocabulary") }
    self.idOfToken = idOfToken
    self.tokens = tokens
    func nonEmpty(_ key: String) throws -> String? {
      let value = try field[key].optionalString()
      return value?.isEmpty == true ? nil : value
    }
    unknownToken = try nonEmpty("unk_token")
    continuingSubwordPrefix = try nonEmpty("continuing_subword_prefix")
    endOfWordSuffix = try nonEmpty("end_of_word_suffix")
    fuseUnknown = try field["fuse_unk"].bool(default: false)
    byteFallback = try field["byte_fallback"].bool(default: false)
    ignoreMerges = try field["ignore_merges"].bool(default: false)
    if let dropout = field["dropout"].isAbsent ? nil : try field["dropout"].double(), dropout > 0 {
      throw field["dropout"].error("BPE dropout is not supported (it makes encoding random)")
    }

    var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
    let prefixLength = continuingSubwordPrefix?.utf8.count ?? 0
    for (rank, entry) in try field["merges"].array().enumerated() {
      let (left, right) = try Self.mergePair(entry)
      guard let leftID = idOfToken[Array(left.utf8)] else { throw entry.error("\"\(left)\" is not in the vocabulary") }
      guard let rightID = idOfToken[Array(right.utf8)] else {
        throw entry.error("\"\(right)\" is not in the vocabulary")
      }
      // The right half loses its continuation prefix when merged.
      var merged = Array(left.utf8)
      let rightBytes = Array(right.utf8)
      if prefixLength > 0, rightBytes.starts(with: continuingSubwordPrefix!.utf8) {
        merged += rightBytes[prefixLength...]
      } else {
        merged += rightBytes
      }
      guard let mergedID = idOfToken[merged] else {
        throw entry.error("merged token \"\(String(decoding: merged, as: UTF8.self))\" is not in the vocabulary")
      }
      merges[UInt64(leftID) << 32 | UInt64(rightID)] = (Int32(rank), Int32(mergedID))
    }
    self.merges = merges
  }

  /// A merge written as `"a b"` or as `["a", "b"]`.
  private static func mergePair(_ entry: JSONField) throws -> (String, String) {
    if case .string(let text)? = entry.value {
      let parts = text.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2 else { throw entry.error("expected \"left right\", got \"\(text)\"") }
      return (String(parts[0]), String(parts[1]))
    }
    let parts = try entry.array()
    guard parts.count == 2 else { throw entry.error("expected [left, right]") }
    return (try parts[0].string(), try parts[1].string())
  }

  func id(for token: String) -> Int? {
    idOfToken[Array(token.utf8)]
  }

  /// The ids of one pre-tokenized word, given as UTF-8.
  func tokenize(_ word: [UInt8]) -> [Int] {
    if word.isEmpty { return [] }
    if ignoreMerges, let id = idOfToken[word] { return [id] }
    if let cached = cache.value(for: word) { return cached }
    let ids = merge(initialSymbols(word))
    cache.store(ids, for: word)
    return ids
  }

  /// One symbol per character (with prefix / suffix), unknowns handled.
  private func initialSymbols(_ word: [UInt8]) -> [Int] {
    var symbols: [Int] = []
    var pendingUnknown: Int?
    var start = 0
    while start < word.count {
      let end = min(word.count, start + utf8Length(leadByte: word[start]))
      defer { start = end }
      var piece = Array(word[start..<end])
      if start > 0, let continuingSubwordPrefix { piece = Array(continuingSubwordPrefix.utf8) + piece }
      if end == word.count, let endOfWordSuffix { piece += endOfWordSuffix.utf8 }
      if let id = idOfToken[piece] {
        if let unknown = pendingUnknown { symbols.append(unknown) }
        pendingUnknown = nil
        symbols.append(id)
        continue
      }
      if byteFallback {
        let bytes = word[start..<end].map { idOfToken[Array(byteFallbackPiece(Int($0)).utf8)] }
        if bytes.allSatisfy({ $0 != nil }) {
          if let unknown = pendingUnknown { symbols.append(unknown) }
          pendingUnknown = nil
          symbols += bytes.map { $0! }
          continue
        }
      }
      // Without an unknown token the character is dropped, as in the reference.
      guard let unknownToken, let unknownID = idOfToken[Array(unknownToken.utf8)] else { continue }
      if let unknown = pendingUnknown, !fuseUnknown { symbols.append(unknown) }
      pendingUnknown = unknownID
    }
    if let unknown = pendingUnknown { symbols.append(unknown) }
    return symbols
  }

  /// Applies merges, lowest rank first, leftmost first on ties.
  private func merge(_ initial: [Int]) -> [Int] {
    guard initial.count > 1 else { return initial }
    var symbols = initial
    var next = Array(1...initial.count)  // index of the following live symbol (count = none)
    var previous = Array(-1..<(initial.count - 1))
    var alive = [Bool](repeating: true, count: initial.count)
    var queue = MergeQueue()
    for position in 0..<(symbols.count - 1) {
      if let merge = merges[UInt64(symbols[position]) << 32 | UInt64(symbols[position + 1])] {
        queue.push(MergeCandidate(rank: merge.rank, position: Int32(position), id: merge.id))
      }
    }
    while let candidate = queue.pop() {
      let position = Int(candidate.position)
      guard alive[position], next[position] < symbols.count else { continue }
      let right = next[position]
      // Skip stale entries: the pair here must still make the same token.
      guard let merge = merges[UInt64(symbols[position]) << 32 | UInt64(symbols[right])], merge.id == candidate.id
      else { continue }
      symbols[position] = Int(candidate.id)
      alive[right] = false
      next[position] = next[right]
      if next[right] < symbols.count { previous[next[right]] = position }
      if previous[position] >= 0 {
        let left = previous[position]
        if let merge = merges[UInt64(symbols[left]) << 32 | UInt64(symbols[position])] {
          queue.push(MergeCandidate(rank: merge.rank, position: Int32(left), id: merge.id))
        }
      }
      if next[position] < symbols.count {
        if let merge = merges[UInt64(symbols[position]) << 32 | UInt64(symbols[next[position]])] {
          queue.push(MergeCandidate(rank: merge.rank, position: Int32(position), id: merge.id))
        }
      }
    }
    return symbols.indices.filter { alive[$0] }.map { symbols[$0] }
  }
}

/// A possible merge of the symbol at `position` with the next one.
struct MergeCandidate {
  var rank: Int32
  var position: Int32
  var id: Int32

  func precedes(_ other: MergeCandidate) -> Bool {
    rank != other.rank ? rank < other.rank : position < other.position
  }
}

/// A binary min-heap of merge candidates.
struct MergeQueue {
  private var heap: [MergeCandidate] = []

  mutating func push(_ candidate: MergeCandidate) {
    heap.append(candidate)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].precedes(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> MergeCandidate? {
    guard let top = heap.first else { return nil }
    let last = heap.removeLast()
    if !heap.isEmpty {
      heap[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var best = parent
        if left < heap.count, heap[left].precedes(heap[best]) { best = left }
        if right < heap.count, heap[right].precedes(heap[best]) { best = right }
        if best == parent { break }
        heap.swapAt(parent, best)
        parent = best
      }
    }
    return top
  }
}

/// A bounded, thread-safe cache of word → ids, so repeated words skip the
/// merge loop.
final class WordCache: @unchecked Sendable {
  // All access goes through `lock`.
  private let lock = NSLock()
  private var entries: [[UInt8]: [Int]] = [:]
  private let capacity = 10_000

  func value(for key: [UInt8]) -> [Int]? {
    lock.lock()
    defer { lock.unlock() }
    return entries[key]
  }

  func store(_ value: [Int], for key: [UInt8]) {
    lock.lock()
    defer { lock.unlock() }
    if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
    entries[key] = value
  }
}
