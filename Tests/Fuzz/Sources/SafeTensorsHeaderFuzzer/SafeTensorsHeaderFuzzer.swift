import FuzzSupport
import Foundation
import TensorCore

/// Reads any bytes as a safetensors file: errors are fine, crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? SafeTensorsFile.read(data: Data(fuzzBytes(data, size)), source: "fuzz")
  return 0
}

@_cdecl("SafeTensorsHeaderFuzzer_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, fuzzSafeTensors)
}
