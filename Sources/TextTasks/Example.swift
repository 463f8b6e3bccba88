/// One seq2seq training pair: the text the encoder reads and the text the
/// decoder must write.
public struct Example: Sendable, Hashable, Codable {
  public var source: String
  public var target: String

  public init(source: String, target: String) {
    self.source = source
    self.target = target
  }
}

/// The three disjoint parts of a built-in task.
public enum TaskSplit: String, CaseIterable, Sendable, Codable {
  case train, valid, test

  /// A distinct stream number per split, so the three draw independent sequences.
  var stream: UInt64 {
    switch self {
    case .train: return 1
    case .valid: return 2
    case .test: return 3
    }
  }
}
