import FuzzSupport
import Foundation
import ModularCompression
import TensorCore

/// Parses any bytes as JSON and, when they parse, checks the text round trip
/// and decodes them as every recipe kind: errors are fine, crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  guard let value = try? JSONValue.parse(bytes) else { return 0 }
  guard let again = try? JSONValue.parse(Array(value.jsonText.utf8)), again == value else {
    fatalError("round trip changed the value: \(value.jsonText)")
  }
  _ = try? AssemblyRecipe.parse(Data(bytes), source: "fuzz")
  return 0
}

@_cdecl("JSONFuzzer_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, fuzzJSON)
}
