import Foundation
import FuzzDriver
import Tokenizers

/// One input: `tokenizer.json` bytes. A tokenizer that loads is then used:
/// text (with specials, bytes and unknown characters) is encoded, its ids and
/// a few out-of-vocabulary ids are decoded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  guard let tokenizer = try? HuggingFaceTokenizer(tokenizerJSON: bytes, source: "fuzz/tokenizer.json") else { return 0 }
  for text in ["", "Hello world! 12 März 2024", "  a  </s><pad> é ✓ \u{1F600}\n\t"] {
    let ids = tokenizer.encode(text, addSpecialTokens: true, maxLength: 64)
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    _ = tokenizer.decode(ids, skipSpecialTokens: true)
  }
  _ = tokenizer.decode([-1, 0, 1, Int.max, Int.min], skipSpecialTokens: false)
  return 0
}

@_cdecl("FuzzTokenizer_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzTokenizer(data!, size) }
}
