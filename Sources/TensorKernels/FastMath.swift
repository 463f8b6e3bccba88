/// Scalar transcendental functions used by the elementwise kernels, kept in one
/// place so ops never call libm directly.
///
/// Everything here is `@inlinable` and always inlined: the baseline kernels
/// and the wide-SIMD build (``KernelSet``) each compile these bodies with their
/// own target flags. Each function takes the ``MultiplyAdd`` to use; the
/// one-argument forms use ``SeparateMultiplyAdd`` (the baseline's arithmetic).
///
/// Each is branch-free (selects, no calls), so a loop that applies one to an
/// array vectorises: libm's `expf`/`erff` are opaque calls that keep such loops
/// scalar. Accuracy against double-precision libm, over the whole float range:
/// relative error below 4e-7 (a few ulp); outputs that would be subnormal are
/// flushed to zero. Special values follow IEEE (`exp(-inf) = 0`,
/// `log(0) = -inf`, `log(-1) = nan`, NaN propagates).
public enum FastMath {
  /// ln 2 split so that `n · ln2Hi` is exact for |n| < 2¹⁰ (Cody–Waite).
  @usableFromInline static var ln2Hi: Float { 0.693_145_751_953_125 }
  @usableFromInline static var ln2Lo: Float { 1.428_606_765_330_187_0e-6 }
  @usableFromInline static var log2e: Float { 1.442_695_040_888_963_4 }
  /// 1.5·2²³: see ``reduce(_:_:)``.
  @usableFromInline static var roundingShift: Float { 12_582_912 }

  /// Splits `x = n · ln 2 + r` with `|r| ≤ ln 2 / 2`; `n` comes back as an
  /// integer read from the bits (a float-to-int conversion would trap on NaN
  /// in checked builds).
  @inlinable @inline(__always) static func reduce<M: MultiplyAdd>(_ x: Float, _: M.Type) -> (n: Int32, r: Float) {
    // Adding 1.5·2²³ rounds to an integer and leaves it in the low mantissa
    // bits; this needs no SSE4.1 `roundps` (not in the baseline x86-64 target).
    let shifted = M.multiplyAdd(x, log2e, roundingShift)
    let n = shifted - roundingShift
    let r = M.multiplyAdd(-n, ln2Lo, M.multiplyAdd(-n, ln2Hi, x))
    return (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000, r)
  }

  /// `value · 2ⁿ` by adding `n` to the exponent field: right whenever the
  /// result is a normal float (callers replace the other cases).
  @inlinable @inline(__always) static func scaled(_ value: Float, byPowerOf2 n: Int32) -> Float {
    Float(bitPattern: UInt32(bitPattern: Int32(bitPattern: value.bitPattern) &+ (n &<< 23)))
  }

  /// eʳ − 1 for |r| ≤ ln 2 / 2 (Taylor to r⁷; the tail is below 6e-9 relative).
  @inlinable @inline(__always) static func expm1Reduced<M: MultiplyAdd>(_ r: Float, _: M.Type) -> Float {
    var p: Float = 1 / 5040
    p = M.multiplyAdd(p, r, 1 / 720)
    p = M.multiplyAdd(p, r, 1 / 120)
    p = M.multiplyAdd(p, r, 1 / 24)
    p = M.multiplyAdd(p, r, 1 / 6)
    p = M.multiplyAdd(p, r, 0.5)
    return M.multiplyAdd(p * r, r, r)
  }

  /// Clamps `x` to `low...high` with single `maxps`/`minps` instructions
  /// (`Swift.min`/`max` compile to compare-and-blend sequences). NaN becomes
  /// `high`; callers restore it.
  @inlinable @inline(__always) static func clamp(_ x: Float, _ low: Float, _ high: Float) -> Float {
    let above = x > low ? x : low
    return above < high ? above : high
  }

  /// `magnitude` with the sign of `sign`, by bits (no compare and blend).
  @inlinable @inline(__always) static func withSign(of sign: Float, _ magnitude: Float) -> Float {
    Float(bitPattern: magnitude.bitPattern | (sign.bitPattern & 0x8000_0000))
  }

  /// eˣ for x in [-87.3, 88.7], with no special cases, for callers whose
  /// arguments are known to be in range.
  @inlinable @inline(__always) static func expInRange<M: MultiplyAdd>(_ x: Float, _ m: M.Type) -> Float {
    let (n, r) = reduce(x, m)
    return scaled(expm1Reduced(r, m) + 1, byPowerOf2: n)
  }

  /// eˣ.
  @inlinable @inline(__always) public static func exp<M: MultiplyAdd>(_ x: Float, using m: M.Type) -> Float {
    var y = expInRange(clamp(x, -88, 88.75), m)
    // Below ln(FLT_MIN) the result would be subnormal: flush; above ln(FLT_MAX) overflow.
    y = x < -87.336_544 ? 0 : y
    y = x >= 88.722_839 ? .infinity : y
    return x != x ? x : y
  }

  /// eˣ − 1, accurate near zero.
  @inlinable @inline(__always) public static func expm1<M: MultiplyAdd>(_ x: Float, using m: M.Type) -> Float {
    let (n, r) = reduce(clamp(x, -88, 88.75), m)
    let q = expm1Reduced(r, m)
    // 2ⁿ·(eʳ − 1) + (2ⁿ − 1) is exact when n = 0 and never cancels; 2ⁿ alone
    // overflows for n = 128, where the plain product is as accurate.
    let scale = scaled(1, byPowerOf2: n)
    var y = n < 64 ? M.multiplyAdd(scale, q, scale - 1) : scaled(q + 1, byPowerOf2: n) - 1
    y = x < -17 ? -1 : y  // e^-17 is below half an ulp of 1
    y = x >= 88.722_839 ? .infinity : y
    return x != x ? x : y
  }

  /// Natural logarithm.
  @inlinable @inline(__always) public static func log<M: MultiplyAdd>(_ x: Float, using _: M.Type) -> Float {
    // Subnormals are scaled into the normal range first.
    let isSubnormal = x < 1.175_494_4e-38
    let scaled = isSubnormal ? x * 8_388_608 : x
    // x = 2ᵉ · m with m in [√½, √2): subtract the bits of √½ so the exponent
    // field of the difference is e.
    let shifted = Int32(bitPattern: scaled.bitPattern) &- 0x3F35_04F3
    let e = Float(shifted &>> 23) - (isSubnormal ? 23 : 0)
    let m = Float(bitPattern: UInt32(bitPattern: (shifted & 0x007F_FFFF) &+ 0x3F35_04F3))
    // log m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172: the odd series to
    // s⁹ leaves under 2e-9 relative.
    let s = (m - 1) / (m + 1)
    let z = s * s
    var p: Float = 1 / 9
    p = M.multiplyAdd(p, z, 1 / 7)
    p = M.multiplyAdd(p, z, 1 / 5)
    p = M.multiplyAdd(p, z, 1 / 3)
    let logM = M.multiplyAdd(2 * s * z, p, 2 * s)
    var y = M.multiplyAdd(e, ln2Hi, M.multiplyAdd(e, ln2Lo, logM))
    y = x == .infinity ? x : y
    y = x == 0 ? -.infinity : y
    y = x < 0 ? .nan : y
    return x != x ? x : y
  }

  /// Hyperbolic tangent, as `e / (e + 2)` with `e = eˣ − 1` at `2|x|`.
  @inlinable @inline(__always) public static func tanh<M: MultiplyAdd>(_ x: Float, using m: M.Type) -> Float {
    // tanh(9.1) rounds to 1; the clamp keeps e finite (inf/inf would be NaN).
    let twice = 2 * clamp(Swift.abs(x), 0, 9.1)
    let (n, r) = reduce(twice, m)
    let scale = scaled(1, byPowerOf2: n)
    let e = M.multiplyAdd(scale, expm1Reduced(r, m), scale - 1)
    let y = withSign(of: x, e / (e + 2))
    return x != x ? x : y
  }

  /// The error function, as `x · P(x²) / Q(x²)` on |x| ≤ 3.9192 (beyond it erf
  /// rounds to ±1 in Float).
  ///
  /// One rational form for the whole range: no second polynomial and no `exp`
  /// for large arguments, which makes it about a third of the work of a
  /// piecewise fit. P and Q (degree 5 in x²) are a minimax fit of `erf(x)/x`
  /// against high-precision erf, made for Tessera (linearised Remez); relative
  /// error in Float arithmetic is below 3.2e-7.
  @inlinable @inline(__always) public static func erf<M: MultiplyAdd>(_ x: Float, using _: M.Type) -> Float {
    let a = clamp(Swift.abs(x), 0, 3.9192)
    let w = a * a
    var p: Float = 2.016_611_006e-06
    p = M.multiplyAdd(p, w, 2.840_993_984e-04)
    p = M.multiplyAdd(p, w, 3.812_670_475e-03)
    p = M.multiplyAdd(p, w, 5.288_993_195e-02)
    p = M.multiplyAdd(p, w, 1.917_682_737e-01)
    p = M.multiplyAdd(p, w, 1.128_379_107)
    var q: Float = 3.770_064_723e-05
    q = M.multiplyAdd(q, w, 1.170_430_798e-03)
    q = M.multiplyAdd(q, w, 1.506_569_795e-02)
    q = M.multiplyAdd(q, w, 1.146_367_416e-01)
    q = M.multiplyAdd(q, w, 5.032_829_046e-01)
    q = M.multiplyAdd(q, w, 1)
    let r = a * (p / q)
    let y = withSign(of: x, r < 1 ? r : 1)
    return x != x ? x : y
  }
}

extension FastMath {
  /// eˣ with ``SeparateMultiplyAdd``.
  @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { exp(x, using: SeparateMultiplyAdd.self) }
  /// eˣ − 1 with ``SeparateMultiplyAdd``.
  @inlinable @inline(__always) public static func expm1(_ x: Float) -> Float {
    expm1(x, using: SeparateMultiplyAdd.self)
  }
  /// Natural logarithm with ``SeparateMultiplyAdd``.
  @inlinable @inline(__always) public static func log(_ x: Float) -> Float { log(x, using: SeparateMultiplyAdd.self) }
  /// Hyperbolic tangent with ``SeparateMultiplyAdd``.
  @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanh(x, using: SeparateMultiplyAdd.self) }
  /// The error function with ``SeparateMultiplyAdd``.
  @inlinable @inline(__always) public static func erf(_ x: Float) -> Float { erf(x, using: SeparateMultiplyAdd.self) }
}

/// How the polynomial steps `a · b + c` of ``FastMath`` are computed.
public protocol MultiplyAdd {
  static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float
}

/// `a · b + c` with two roundings: the baseline x86-64 has no FMA instruction
/// (a fused form would become a call to `fmaf` per element).
public enum SeparateMultiplyAdd: MultiplyAdd {
  @inlinable @inline(__always) public static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float { a * b + c }
}

/// `a · b + c` with one rounding (an FMA instruction); only for builds whose
/// target CPU has FMA. About a quarter less work in exp, erf and tanh, and
/// slightly more accurate.
public enum FusedMultiplyAdd: MultiplyAdd {
  @inlinable @inline(__always) public static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
    c.addingProduct(a, b)
  }
}

/// Row reductions for the fused kernels (softmax, norms). A plain
/// `for j in 0..<n { total += x[j] }` cannot vectorise: without fast-math the
/// compiler must add in order, one add latency per element. These keep 32
/// independent partial results in two `SIMD16` registers (four SSE registers
/// each on the baseline, one AVX-512 register each on the wide build: the same
/// lanes, so both builds round alike), then fold the lanes in order and the
/// tail one element at a time. Results differ from a serial loop only by
/// rounding order.
extension FastMath {
  /// `Σ x[j]`.
  @inlinable @inline(__always) public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    reduce(x, count: count, initial: 0, combine: +, merge: +, finish: laneSum, scalar: +)
  }

  /// `Σ (x[j] − center)²`.
  @inlinable @inline(__always) public static func sumOfSquares(
    _ x: UnsafePointer<Float>, count: Int, centeredOn center: Float = 0
  ) -> Float {
    reduce(
      x, count: count, initial: 0,
      combine: { total, v in
        let d = v - center
        return d * d + total
      },
      merge: +, finish: laneSum,
      scalar: { total, v in (v - center) * (v - center) + total })
  }

  /// `max x[j]`, or `-inf` when `count == 0` (NaN elements are skipped).
  @inlinable @inline(__always) public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    reduce(
      x, count: count, initial: -.infinity, combine: larger, merge: larger, finish: largestLane,
      scalar: { $1 > $0 ? $1 : $0 })
  }

  /// `Σ a[j]·b[j]`.
  @inlinable @inline(__always) public static func dot(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
  ) -> Float {
    var first = Vector(), second = Vector()
    var j = 0
    while j + 32 <= count {
      first = load(a + j) * load(b + j) + first
      second = load(a + j + 16) * load(b + j + 16) + second
      j += 32
    }
    var total = laneSum(first + second)
    while j < count {
      total = a[j] * b[j] + total
      j += 1
    }
    return total
  }

  /// The accumulator type of the reductions.
  public typealias Vector = SIMD16<Float>

  // Lane folds and compares are written out: the standard library's `sum()`
  // and `max()` are generic code that each module may emit under one shared
  // symbol, so the linker could hand the baseline build the AVX-512 copy.
  // (`lowHalf`/`highHalf`/`replacing` are always inlined.)

  /// The lanes added pairwise (halves, then quarters, …): four dependent adds
  /// instead of fifteen.
  @inlinable @inline(__always) static func laneSum(_ v: Vector) -> Float {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
  }

  /// The largest lane, folded pairwise like ``laneSum(_:)`` (NaN lanes lose).
  @inlinable @inline(__always) static func largestLane(_ v: Vector) -> Float {
    let eight = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let four = eight.lowHalf.replacing(with: eight.highHalf, where: eight.highHalf .> eight.lowHalf)
    let two = four.lowHalf.replacing(with: four.highHalf, where: four.highHalf .> four.lowHalf)
    return two[1] > two[0] ? two[1] : two[0]
  }

  /// Lane-wise maximum as compare-and-blend (the standard library's
  /// `pointwiseMax` is an out-of-line call per vector here).
  @inlinable @inline(__always) static func larger(_ a: Vector, _ b: Vector) -> Vector {
    a.replacing(with: b, where: b .> a)
  }

  @inlinable @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
  }

  /// Folds `x` into two accumulators with `combine`, joins them with `merge`
  /// and `finish`, then folds the tail one element at a time.
  @inlinable @inline(__always) static func reduce(
    _ x: UnsafePointer<Float>, count: Int, initial: Float,
    combine: (Vector, Vector) -> Vector, merge: (Vector, Vector) -> Vector,
    finish: (Vector) -> Float, scalar: (Float, Float) -> Float
  ) -> Float {
    var first = Vector(repeating: initial), second = first
    var j = 0
    while j + 32 <= count {
      first = combine(first, load(x + j))
      second = combine(second, load(x + j + 16))
      j += 32
    }
    var total = finish(merge(first, second))
    while j < count {
      total = scalar(total, x[j])
      j += 1
    }
    return total
  }
}

extension FastMath {
  /// ``sum(_:count:)`` (or ``sumOfSquares(_:count:centeredOn:)``) over a row
  /// that arrives in blocks: the same 32-lane partial results, then the tail,
  /// so the result is bit-identical.
  public struct PartialSum {
    @usableFromInline var first = Vector(), second = Vector()
    @usableFromInline var total: Float = 0
    @usableFromInline let center: Float, isSquares: Bool
    /// The sum, once ``finish(_:count:)`` has run.
    @inlinable public var value: Float {
      @inline(__always) get { total }
    }

    /// A sum of the elements, or of `(x − center)²` with `squaresAround`.
    @inlinable public init(squaresAround center: Float? = nil) {
      self.center = center ?? 0
      isSquares = center != nil
    }

    /// Adds a block that is not the row's last; `count` must be a multiple of 32.
    @inlinable @inline(__always) public mutating func add(_ x: UnsafePointer<Float>, count: Int) {
      var j = 0
      if isSquares {
        while j + 32 <= count {
          let d1 = load(x + j) - center, d2 = load(x + j + 16) - center
          first = d1 * d1 + first
          second = d2 * d2 + second
          j += 32
        }
      } else {
        while j + 32 <= count {
          first = first + load(x + j)
          second = second + load(x + j + 16)
          j += 32
        }
      }
    }

    /// Adds the row's last block and computes ``value``.
    @inlinable @inline(__always) public mutating func finish(_ x: UnsafePointer<Float>, count: Int) {
      add(x, count: count)
      var result = laneSum(first + second)
      var j = count - count % 32
      while j < count {
        result = isSquares ? (x[j] - center) * (x[j] - center) + result : result + x[j]
        j += 1
      }
      total = result
    }
  }
}

extension FastMath {
  /// ``maximum(_:count:)`` over a row that arrives in blocks, folded once at
  /// the end (the maximum does not depend on the order). Blocks are added by
  /// ``KernelSet`` kernels (each build compiles its own loop).
  public struct PartialMaximum {
    @usableFromInline var first = Vector(repeating: -.infinity), second = Vector(repeating: -.infinity)
    @usableFromInline var tail: Float = -.infinity

    @inlinable public init() {}

    /// The largest element added, or `-inf` (NaN elements are skipped).
    @inlinable public var value: Float {
      @inline(__always) get {
        let lanes = largestLane(larger(first, second))
        return tail > lanes ? tail : lanes
      }
    }
  }
}
