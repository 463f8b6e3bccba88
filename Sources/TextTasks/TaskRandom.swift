import TensorCore

// Random draws for the task generators, all from TensorCore's `SeededRandom`
// (its `nextInt(below:)` and `shuffle`, never the standard library's
// algorithms), so generated data sets stay byte-identical for a seed across
// machines and Swift versions.

extension SeededRandom {
  /// A uniform integer in `range`.
  mutating func nextInt(in range: ClosedRange<Int>) -> Int {
    range.lowerBound + nextInt(below: range.upperBound - range.lowerBound + 1)
  }

  /// A uniformly chosen element of a non-empty array.
  mutating func pick<Element>(_ items: [Element]) -> Element {
    items[nextInt(below: items.count)]
  }
}

/// A number in `0..<1000` fixed by the text alone, the same in every run, on
/// every platform and Swift version (unlike `Hasher`): 64-bit FNV-1a of the
/// UTF-8 bytes, mixed by one draw of a generator seeded with it.
func stableBucket(_ text: String) -> Int {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in text.utf8 {
    hash ^= UInt64(byte)
    hash &*= 0x100_0000_01B3
  }
  var mixer = SeededRandom(seed: hash)
  return mixer.nextInt(below: 1000)
}
