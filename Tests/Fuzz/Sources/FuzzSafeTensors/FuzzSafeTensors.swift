import Foundation
import FuzzDriver
import TensorCore

/// One input: bytes of a whole `.safetensors` file (8-byte length, JSON header, data).
/// The header parser runs alone first, then the full reader with its finite-value check.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  _ = try? SafeTensorsFile.readHeader(data: bytes, source: "fuzz.safetensors")
  if let file = try? SafeTensorsFile.read(data: bytes, source: "fuzz.safetensors") {
    _ = try? SafeTensorsFile.requireFinite(file.tensors, source: "fuzz.safetensors")
  }
  return 0
}

@_cdecl("FuzzSafeTensors_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzSafeTensors(data!, size) }
}
