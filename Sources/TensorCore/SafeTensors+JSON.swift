import JSONFormat

extension SafeTensorsHeader {
  /// Deeper nesting than any real header (a few kilobytes for a whole model).
  static let maximumJSONDepth = 64

  /// Parses header bytes (already checked to be UTF-8) with the shared JSON
  /// parser; a repeated key becomes the error of the place it repeats in.
  static func parseJSON(_ bytes: [UInt8], source: String) throws(SafeTensorsError) -> JSONValue {
    do {
      return try JSONValue.parse(bytes, maximumDepth: maximumJSONDepth)
    } catch {
      if let key = error.duplicateKey {
        switch error.path {
        case []: throw .duplicateName(source: source, name: key)
        case [SafeTensorsFile.metadataKey]: throw .invalidMetadata(source: source, reason: "has key '\(key)' more than once")
        case let path where path.count == 1:
          throw .invalidEntry(source: source, tensor: path[0], reason: "key '\(key)' appears more than once")
        default: break
        }
      }
      throw .invalidHeaderJSON(source: source, reason: "\(error.reason) at byte \(error.offset) of the header")
    }
  }
}
