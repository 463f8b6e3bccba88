import Foundation
import JSONFormat
import TensorCore

/// Tessera's small JSON record files (`training-cost.json`, …) read strictly:
/// bad JSON, a repeated key, an unknown field or a bad value is one
/// ``RecipeError`` naming the file and the field, never a silently used default.
enum StrictJSONFile {
  static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data = try FileAccess.read(url)
    do {
      return try StrictJSON.decode(T.self, from: try JSONValue.parse(data))
    } catch let error as JSONSyntaxError {
      throw RecipeError(file: url.path, reason: error.description)
    } catch let error as JSONFieldError {
      throw RecipeError(file: url.path, reason: error.description)
    }
  }
}
