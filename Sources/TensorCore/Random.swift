import Foundation

/// A small, seeded pseudo-random generator: PCG-XSH-RR with 64-bit state and
/// 32-bit output (O'Neill 2014, the `pcg32` of the reference C library).
///
/// The same seed and stream give the same numbers on every machine and every
/// Swift version: the generator and every derived distribution are written
/// here, never delegated to the system generator. It conforms to
/// `RandomNumberGenerator` (``next()`` is ``nextUInt64()``) so it can feed APIs
/// that take `inout SeededRandom`; but standard-library
/// algorithms such as `shuffled(using:)` or `Int.random(in:using:)` may change
/// how they consume bits between Swift releases, so reproducible code calls
/// ``shuffle(_:)`` and ``nextInt(below:)`` instead.
///
/// ```swift
/// var rng = SeededRandom(seed: 42)
/// var dropout = rng.split(1)      // independent stream for dropout masks
/// let weights = Tensor.normal([4, 8], std: 0.02, using: &rng)
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable {
  /// The LCG state; the output permutes the state *before* each step.
  private var state: UInt64
  /// The LCG increment; always odd. Different increments are different streams.
  private var increment: UInt64
  /// The second value of the last Box–Muller pair, returned by the next ``nextNormal()``.
  private var spareNormal: Float?

  private static let multiplier: UInt64 = 6_364_136_223_846_793_005

  /// Creates a generator, seeded as `pcg32_srandom_r(seed, stream)` in the
  /// reference implementation, so `SeededRandom(seed: 42, stream: 54)` yields
  /// the reference demo's `0xa15c02b7, 0x7b47f409, …`.
  ///
  /// - Parameters:
  ///   - seed: The starting state.
  ///   - stream: Selects one of 2^63 sequences; generators with different
  ///     streams produce different sequences from the same seed.
  public init(seed: UInt64, stream: UInt64 = 0) {
    state = 0
    increment = (stream << 1) | 1
    step()
    state &+= seed
    step()
  }

  @inline(__always) private mutating func step() {
    state = state &* Self.multiplier &+ increment
  }

  /// The next 32 uniformly distributed bits.
  public mutating func nextUInt32() -> UInt32 {
    let old = state
    step()
    return Self.output(old)
  }

  /// PCG's output permutation (XSH-RR) of a state.
  @inline(__always) static func output(_ state: UInt64) -> UInt32 {
    let xorShifted = UInt32(truncatingIfNeeded: ((state >> 18) ^ state) >> 27)
    let rotation = UInt32(truncatingIfNeeded: state >> 59)
    return xorShifted.rotateRight(by: rotation)
  }

  /// The next 64 uniformly distributed bits: two 32-bit outputs, the first in
  /// the high half.
  public mutating func nextUInt64() -> UInt64 {
    let high = UInt64(nextUInt32())
    return high << 32 | UInt64(nextUInt32())
  }

  /// The next 64 bits, as ``nextUInt64()``; the `RandomNumberGenerator` requirement.
  public mutating func next() -> UInt64 { nextUInt64() }

  /// A uniform `Float` in `[0, 1)`: the top 24 bits of one output times 2⁻²⁴,
  /// so every value is exactly representable and 1 is never returned.
  public mutating func nextFloat() -> Float {
    Self.unitFloat(nextUInt32())
  }

  /// `bits`' top 24 bits times 2⁻²⁴ (see ``nextFloat()``).
  @inline(__always) static func unitFloat(_ bits: UInt32) -> Float {
    Float(bits >> 8) * 0x1p-24
  }

  /// A standard normal sample (mean 0, standard deviation 1).
  ///
  /// Box–Muller: two outputs `a`, `b` give `u1 = (a + 1)·2⁻³²` in `(0, 1]` and
  /// `u2 = b·2⁻³²` in `[0, 1)`; with `r = √(−2 ln u1)` the pair is
  /// `r·cos 2πu2` (returned now) and `r·sin 2πu2` (kept and returned by the next
  /// call). The arithmetic is done in `Double` and rounded once to `Float`, which
  /// makes platform libm differences practically invisible. Samples are bounded
  /// by `√(64 ln 2) ≈ 6.66`.
  public mutating func nextNormal() -> Float {
    if let spare = spareNormal {
      spareNormal = nil
      return spare
    }
    let u1 = (Double(nextUInt32()) + 1) * 0x1p-32
    let u2 = Double(nextUInt32()) * 0x1p-32
    let radius = (-2 * Foundation.log(u1)).squareRoot()
    let angle = 2 * Double.pi * u2
    spareNormal = Float(radius * Foundation.sin(angle))
    return Float(radius * Foundation.cos(angle))
  }

  /// A uniform integer in `0..<bound`, without modulo bias (Lemire's
  /// multiply-and-reject method; bounds above `UInt32.max` use 64-bit draws).
  public mutating func nextInt(below bound: Int) -> Int {
    precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
    if bound <= Int(UInt32.max) {
      let limit = UInt32(bound)
      var product = UInt64(nextUInt32()) * UInt64(limit)
      if UInt32(truncatingIfNeeded: product) < limit {
        let threshold = (0 &- limit) % limit
        while UInt32(truncatingIfNeeded: product) < threshold {
          product = UInt64(nextUInt32()) * UInt64(limit)
        }
      }
      return Int(product >> 32)
    }
    let limit = UInt64(bound)
    var product = nextUInt64().multipliedFullWidth(by: limit)
    if product.low < limit {
      let threshold = (0 &- limit) % limit
      while product.low < threshold { product = nextUInt64().multipliedFullWidth(by: limit) }
    }
    return Int(product.high)
  }

  /// Shuffles `array` in place (Fisher–Yates, from the last element down,
  /// each position swapped with `nextInt(below: i + 1)`).
  public mutating func shuffle<T>(_ array: inout [T]) {
    guard array.count > 1 else { return }
    for i in stride(from: array.count - 1, to: 0, by: -1) {
      let j = nextInt(below: i + 1)
      if i != j { array.swapAt(i, j) }
    }
  }

  /// Skips `steps` outputs of ``nextUInt32()`` in O(log steps): afterwards the
  /// generator is where `steps` calls would have left it. Threads that fill
  /// parts of one tensor start from copies advanced to their first element, so
  /// the values match a serial fill exactly.
  public mutating func advance(by steps: UInt64) {
    let (multiplier, increment) = jump(steps)
    state = multiplier &* state &+ increment
  }

  /// The affine map `s ↦ A·s + C` of `steps` LCG steps: square-and-multiply
  /// over the bits of `steps` (Brown, "Random number generation with
  /// arbitrary strides", 1994).
  private func jump(_ steps: UInt64) -> (multiplier: UInt64, increment: UInt64) {
    var (totalMultiplier, totalIncrement): (UInt64, UInt64) = (1, 0)
    var (multiplier, increment) = (Self.multiplier, self.increment)
    var remaining = steps
    while remaining > 0 {
      if remaining & 1 == 1 {
        totalMultiplier = totalMultiplier &* multiplier
        totalIncrement = totalIncrement &* multiplier &+ increment
      }
      increment = (multiplier &+ 1) &* increment
      multiplier = multiplier &* multiplier
      remaining >>= 1
    }
    return (totalMultiplier, totalIncrement)
  }

  /// Calls `body(i, nextUInt32())` for `i` in `0..<count`, the values and the
  /// final state exactly those of `count` serial calls. Four interleaved
  /// streams, each stepping four draws at a time, break the chain of
  /// dependent 64-bit multiplies that limits a serial loop.
  @inline(__always)
  mutating func forEachUInt32(_ count: Int, _ body: (Int, UInt32) -> Void) {
    let (multiplier4, increment4) = jump(4)
    var s0 = state
    var s1 = s0 &* Self.multiplier &+ increment
    var s2 = s1 &* Self.multiplier &+ increment
    var s3 = s2 &* Self.multiplier &+ increment
    var i = 0
    while i + 4 <= count {
      body(i, Self.output(s0))
      body(i + 1, Self.output(s1))
      body(i + 2, Self.output(s2))
      body(i + 3, Self.output(s3))
      s0 = multiplier4 &* s0 &+ increment4
      s1 = multiplier4 &* s1 &+ increment4
      s2 = multiplier4 &* s2 &+ increment4
      s3 = multiplier4 &* s3 &+ increment4
      i += 4
    }
    state = s0
    while i < count {
      body(i, nextUInt32())
      i += 1
    }
  }

  /// A copy advanced by `steps` (see ``advance(by:)``).
  public func advanced(by steps: UInt64) -> SeededRandom {
    var copy = self
    copy.advance(by: steps)
    return copy
  }

  /// A new generator for an independent purpose (data order, dropout, …).
  ///
  /// The child's seed and stream are SplitMix64 hashes of this generator's
  /// current state, its stream and `stream`; `self` is not advanced, so
  /// `rng.split(1)` and `rng.split(2)` taken at the same point are distinct and
  /// reproducible. A cached normal value is not inherited.
  public func split(_ stream: UInt64) -> SeededRandom {
    let key = Self.mix(stream)
    return SeededRandom(
      seed: Self.mix(state ^ key), stream: Self.mix(increment &+ Self.mix(key)))
  }

  /// The SplitMix64 output function (Steele, Lea, Flood 2014): a bijective
  /// 64-bit mixer, used only to derive split seeds.
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension UInt32 {
  @inline(__always) fileprivate func rotateRight(by count: UInt32) -> UInt32 {
    // Masking shifts keep the count in 0...31, so a rotation by 0 is the identity.
    (self &>> count) | (self &<< (0 &- count))
  }
}
