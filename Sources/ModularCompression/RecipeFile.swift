import Foundation
import JSONFormat

/// A recipe file's top-level JSON object, read part by part. Bad JSON, a
/// repeated key and an unknown part are refused, naming the file and place.
struct RecipeFile {
  let source: String
  let root: [String: JSONValue]

  /// Reads `url`, whose top-level object may hold only `parts` and `description`.
  init(url: URL, parts: [String]) throws {
    try self.init(data: Self.read(url), source: url.path, parts: parts + ["description"])
  }

  /// Parses recipe JSON; `source` names it in errors.
  init(data: Data, source: String, parts: [String]) throws {
    self.source = source
    let value: JSONValue
    do { value = try JSONValue.parse(data) } catch {
      throw RecipeError(file: source, reason: "invalid JSON at \(error)")
    }
    guard case .object(let members) = value else { throw RecipeError(file: source, reason: "is not a JSON object") }
    root = try Self.dictionary(members, path: "", source: source)
    if let unknown = root.keys.sorted().first(where: { !parts.contains($0) }) {
      throw RecipeError(file: source, reason: "unknown field '\(unknown)'; expected \(parts.joined(separator: ", "))")
    }
  }

  static func read(_ url: URL) throws -> Data {
    do { return try Data(contentsOf: url) } catch { throw RecipeError(file: url.path, reason: "cannot be read") }
  }

  /// `members` by key. The parser refuses byte-identical keys; two keys that
  /// are different bytes but equal Swift strings (é and e + ◌́) are refused here.
  static func dictionary(
    _ members: [(key: String, value: JSONValue)], path: String, source: String
  ) throws -> [String: JSONValue] {
    var dictionary: [String: JSONValue] = [:]
    for (key, value) in members where dictionary.updateValue(value, forKey: key) != nil {
      let place = path.isEmpty ? key : "\(path).\(key)"
      throw RecipeError(file: source, reason: "field '\(place)' is given twice (spelt with different Unicode forms)")
    }
    return dictionary
  }

  /// The part under `key` decoded as `T`, nil when absent; errors name the field's full path.
  func part<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
    guard let value = root[key] else { return nil }
    do {
      return try StrictJSON.decode(T.self, from: value, path: [key])
    } catch let error as JSONFieldError {
      throw RecipeError(file: source, reason: error.description)
    }
  }

  /// The object under `key` by member name, nil when absent.
  func object(_ key: String) throws -> [String: JSONValue]? {
    guard let value = root[key] else { return nil }
    guard case .object(let members) = value else {
      throw RecipeError(file: source, reason: "field '\(key)' must be an object, not \(value.kind)")
    }
    return try Self.dictionary(members, path: key, source: source)
  }
}

/// A recipe file that cannot be used.
public struct RecipeError: Error, CustomStringConvertible {
  public let file: String
  public let reason: String

  public init(file: String, reason: String) {
    self.file = file
    self.reason = reason
  }

  public var description: String { "\(file): \(reason)" }
}
