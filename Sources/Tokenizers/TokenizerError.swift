import Foundation

/// A tokenizer file that cannot be read, or that asks for something this
/// package does not implement.
///
/// The message always names the file and, where there is one, the JSON field
/// (as a dotted path such as `model.vocab[3]`) or the line.
public struct TokenizerError: Error, LocalizedError, CustomStringConvertible, Equatable, Sendable {
  /// The file (or other source) that was being read.
  public var file: String
  /// The JSON field, as a dotted path, or a line reference; `nil` when the
  /// problem concerns the whole file.
  public var field: String?
  /// What is wrong.
  public var message: String

  /// An error about `file`, at `field` if given.
  public init(file: String, field: String? = nil, message: String) {
    self.file = file
    self.field = field
    self.message = message
  }

  /// `file: field: message`.
  public var description: String {
    if let field, !field.isEmpty { return "\(file): \(field): \(message)" }
    return "\(file): \(message)"
  }

  /// The same text as `description`.
  public var errorDescription: String? { description }
}
