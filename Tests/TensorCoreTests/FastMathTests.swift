import Foundation
import XCTest

@testable import TensorCore

/// FastMath against double-precision libm: relative error on dense grids and
/// the IEEE special values the kernels rely on (softmax masks with -inf, …).
final class FastMathTests: XCTestCase {
  /// The largest relative error of `fast` against `reference` over `points`
  /// evenly spaced inputs in `range`. Results that are subnormal (FastMath
  /// flushes them) or overflow Float count as exact when `fast` gives 0 or inf.
  private func worstRelativeError(
    _ fast: (Float) -> Float, _ reference: (Double) -> Double, _ range: ClosedRange<Float>,
    points: Int = 20_000
  ) -> (error: Double, at: Float) {
    var worst = (error: 0.0, at: Float.nan)
    for i in 0...points {
      let x = range.lowerBound + (range.upperBound - range.lowerBound) * Float(i) / Float(points)
      let expected = reference(Double(x)), actual = fast(x)
      let error: Double
      if abs(expected) > Double(Float.greatestFiniteMagnitude) {
        error = actual.isInfinite && (actual > 0) == (expected > 0) ? 0 : .infinity
      } else if abs(expected) < Double(Float.leastNormalMagnitude) {
        error = abs(Double(actual) - expected) <= Double(Float.leastNormalMagnitude) ? 0 : .infinity
      } else {
        error = abs(Double(actual) - expected) / abs(expected)
      }
      if !(error <= worst.error) { worst = (error, x) }
    }
    return worst
  }

  private func assertAccurate(
    _ name: String, _ fast: (Float) -> Float, _ reference: (Double) -> Double,
    _ ranges: [ClosedRange<Float>], file: StaticString = #filePath, line: UInt = #line
  ) {
    for range in ranges {
      let worst = worstRelativeError(fast, reference, range)
      XCTAssertLessThan(
        worst.error, 4e-7, "\(name) on \(range): relative error \(worst.error) at \(worst.at)",
        file: file, line: line)
    }
  }

  func testExpIsAccurate() {
    assertAccurate("exp", FastMath.exp, Foundation.exp, [-104...89, -1...1, -1e-3...1e-3])
    assertAccurate("expm1", FastMath.expm1, Foundation.expm1, [-100...89, -1...1, -1e-4...1e-4])
  }

  func testLogIsAccurate() {
    assertAccurate(
      "log", FastMath.log, Foundation.log, [1e-30...1e-20, 0.5...2, 0.999...1.001, 1...3e38])
    // Subnormal inputs are scaled, not flushed.
    XCTAssertEqual(FastMath.log(1e-40), Float(Foundation.log(1e-40 as Double)), accuracy: 1e-5)
  }

  func testTanhAndErfAreAccurate() {
    assertAccurate("tanh", FastMath.tanh, Foundation.tanh, [-12...12, -0.01...0.01])
    assertAccurate("erf", FastMath.erf, Foundation.erf, [-6...6, -0.01...0.01, 1.2...1.3])
  }

  func testSpecialValues() {
    XCTAssertEqual(FastMath.exp(-.infinity), 0)
    XCTAssertEqual(FastMath.exp(-1e30), 0)
    XCTAssertEqual(FastMath.exp(.infinity), .infinity)
    XCTAssertEqual(FastMath.exp(89), .infinity)
    XCTAssertEqual(FastMath.exp(0), 1)
    // The floats either side of ln(FLT_MAX) and ln(FLT_MIN).
    XCTAssertEqual(FastMath.exp(88.722_839_355_468_75), .infinity)
    XCTAssertEqual(FastMath.expm1(88.722_839_355_468_75), .infinity)
    XCTAssertEqual(FastMath.exp(88.722_831_726_074_22), 3.402_798_5e38, accuracy: 1e32)
    XCTAssertGreaterThanOrEqual(FastMath.exp(-87.336_540_222_167_97), .leastNormalMagnitude)
    XCTAssertEqual(FastMath.exp(-87.336_547_851_562_5), 0)
    XCTAssertEqual(FastMath.expm1(-.infinity), -1)
    XCTAssertEqual(FastMath.log(0), -.infinity)
    XCTAssertEqual(FastMath.log(1), 0)
    XCTAssertEqual(FastMath.log(.infinity), .infinity)
    XCTAssertTrue(FastMath.log(-1).isNaN)
    XCTAssertEqual(FastMath.tanh(.infinity), 1)
    XCTAssertEqual(FastMath.tanh(-.infinity), -1)
    XCTAssertEqual(FastMath.erf(.infinity), 1)
    XCTAssertEqual(FastMath.erf(-.infinity), -1)
    for function in [FastMath.exp, FastMath.expm1, FastMath.log, FastMath.tanh, FastMath.erf] {
      XCTAssertTrue(function(.nan).isNaN)
    }
  }
}

final class FastMathReductionTests: XCTestCase {
  func testReductionsMatchDoubleSums() {
    var generator = SeededRandom(seed: 42)
    for count in [0, 1, 7, 15, 16, 17, 33, 1000] {
      let a = (0..<count).map { _ in Float.random(in: -2..<2, using: &generator) }
      let b = (0..<count).map { _ in Float.random(in: -2..<2, using: &generator) }
      let center: Float = 0.25
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          let x = pa.baseAddress!, y = pb.baseAddress!
          let sum = a.reduce(0.0) { $0 + Double($1) }
          let squares = a.reduce(0.0) { $0 + (Double($1) - Double(center)) * (Double($1) - Double(center)) }
          let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
          XCTAssertEqual(Double(FastMath.sum(x, count: count)), sum, accuracy: 1e-4, "sum of \(count)")
          XCTAssertEqual(
            Double(FastMath.sumOfSquares(x, count: count, centeredOn: center)), squares,
            accuracy: 1e-3, "squares of \(count)")
          XCTAssertEqual(Double(FastMath.dot(x, y, count: count)), dot, accuracy: 1e-4, "dot of \(count)")
          XCTAssertEqual(FastMath.maximum(x, count: count), a.max() ?? -.infinity, "max of \(count)")
        }
      }
    }
  }

  func testMaximumFindsTheLargestInTheTail() {
    var values = [Float](repeating: -1, count: 19)
    values[18] = 5
    XCTAssertEqual(values.withUnsafeBufferPointer { FastMath.maximum($0.baseAddress!, count: 19) }, 5)
    values[18] = -1
    values[3] = 4
    XCTAssertEqual(values.withUnsafeBufferPointer { FastMath.maximum($0.baseAddress!, count: 19) }, 4)
  }
}
