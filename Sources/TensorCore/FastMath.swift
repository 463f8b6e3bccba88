import Foundation

/// Scalar transcendental functions used by the elementwise kernels, kept in one
/// place so faster (vectorisable) versions can replace them without touching ops.
enum FastMath {
  @inline(__always) static func exp(_ x: Float) -> Float { Foundation.exp(x) }
  @inline(__always) static func log(_ x: Float) -> Float { Foundation.log(x) }
  @inline(__always) static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
  @inline(__always) static func erf(_ x: Float) -> Float { Foundation.erf(x) }
}
