import Foundation
// Everything that reads or writes JSON by hand sees the shared JSON types
// (`JSONValue`, `JSONString`) through TensorCore.
@_exported import JSONFormat

/// `value` as JSON with sorted keys: a text that is the same in every process,
/// for fingerprints of settings (dictionary order varies between runs).
public func stableJSONText(_ value: some Encodable) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = .sortedKeys
  return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
}
