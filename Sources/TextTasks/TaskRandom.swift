// Random draws for the task generators. They use only `next()` of the
// generator: the standard library's `Int.random(in:using:)` and `shuffle(using:)`
// do not promise the same algorithm across Swift versions, and generated data
// sets must stay byte-identical for a given seed.

/// A uniform integer in `0..<bound` (rejection sampling, no modulo bias).
func uniformInt(below bound: Int, using generator: inout some RandomNumberGenerator) -> Int {
  precondition(bound > 0, "uniformInt(below:) needs a positive bound")
  let n = UInt64(bound)
  let threshold = (0 &- n) % n  // 2^64 mod n: values below it would bias the low residues
  while true {
    let draw = generator.next()
    if draw >= threshold { return Int(draw % n) }
  }
}

/// A uniform integer in `range`.
func uniformInt(in range: ClosedRange<Int>, using generator: inout some RandomNumberGenerator) -> Int {
  range.lowerBound + uniformInt(below: range.upperBound - range.lowerBound + 1, using: &generator)
}

/// A uniformly chosen element of a non-empty array.
func pick<Element>(_ items: [Element], using generator: inout some RandomNumberGenerator) -> Element {
  items[uniformInt(below: items.count, using: &generator)]
}

/// Fisher–Yates shuffle driven by `uniformInt`, stable across Swift versions.
func shuffleInPlace<Element>(_ items: inout [Element], using generator: inout some RandomNumberGenerator) {
  guard items.count > 1 else { return }
  for i in stride(from: items.count - 1, to: 0, by: -1) {
    let j = uniformInt(below: i + 1, using: &generator)
    if i != j { items.swapAt(i, j) }
  }
}

/// The generator behind every `seed:` API of this target.
///
/// STAND-IN: TensorCore's `SeededRandom` is being written in parallel; when it
/// lands, this function returns `SeededRandom(seed: mixed)` instead and
/// `SplitMix64` below goes away. Only the bytes of generated data change.
func seededGenerator(seed: UInt64, stream: UInt64) -> some RandomNumberGenerator {
  SplitMix64(state: mix64(seed ^ mix64(stream &* 0x9E37_79B9_7F4A_7C15)))
}

/// Sebastiano Vigna's SplitMix64 (public-domain algorithm): tiny and well mixed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return mix64(state)
  }
}

/// The SplitMix64 finaliser: a bijective avalanche of 64 bits.
func mix64(_ value: UInt64) -> UInt64 {
  var z = value
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}

/// 64-bit FNV-1a of the UTF-8 bytes, avalanched: a hash that never changes
/// between runs, platforms or Swift versions (unlike `Hasher`).
func stableHash(_ text: String) -> UInt64 {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in text.utf8 {
    hash ^= UInt64(byte)
    hash &*= 0x100_0000_01B3
  }
  return mix64(hash)
}
