import Foundation
import FuzzDriver
import Seq2SeqModels

/// Largest model the harness builds; bigger valid configurations are only
/// decoded and validated, so each input stays fast.
let buildLimit = 100_000.0

/// One input: `config.json` bytes. Both families' decoders (which validate)
/// run; a small valid configuration is built through `ModelLoading`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  let t5 = try? JSONDecoder().decode(T5Configuration.self, from: bytes)
  let bart = try? JSONDecoder().decode(BartConfiguration.self, from: bytes)
  let smallest = [t5?.parameterCount, bart?.parameterCount].compactMap { $0 }.min()
  if let smallest, smallest <= buildLimit {
    _ = try? ModelLoading.makeModel(configuration: bytes, source: "fuzz/config.json")
  } else if smallest == nil {
    // Invalid everywhere: the loader must still refuse it with an error.
    _ = try? ModelLoading.makeModel(configuration: bytes, source: "fuzz/config.json")
  }
  return 0
}

@_cdecl("FuzzConfig_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzConfig(data!, size) }
}
