/// An element type a safetensors file can hold and Tessera can read.
///
/// Every type is converted to `Float` on reading: floating-point types exactly
/// where `Float` can hold the value (F64 is rounded), integers exactly up to
/// 2²⁴ in magnitude and rounded beyond, BOOL as 0 or 1. Tessera writes F32, F16, BF16, I8 and U8.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
  case float64 = "F64"
  case float32 = "F32"
  case float16 = "F16"
  case bfloat16 = "BF16"
  case int64 = "I64"
  case int32 = "I32"
  case int16 = "I16"
  case int8 = "I8"
  case uint8 = "U8"
  case bool = "BOOL"

  /// The size of one element in bytes.
  public var byteSize: Int {
    switch self {
    case .float64, .int64: 8
    case .float32, .int32: 4
    case .float16, .bfloat16, .int16: 2
    case .int8, .uint8, .bool: 1
    }
  }

  /// Whether the type holds real numbers (F64, F32, F16, BF16), as weights must.
  public var isFloatingPoint: Bool {
    switch self {
    case .float64, .float32, .float16, .bfloat16: true
    case .int64, .int32, .int16, .int8, .uint8, .bool: false
    }
  }

  /// Converts `destination.count` little-endian elements starting at `source`
  /// (any alignment) to `Float`.
  func convert(_ source: UnsafeRawPointer, into destination: UnsafeMutableBufferPointer<Float>) {
    switch self {
    case .float32:
      #if _endian(little)
        if let base = destination.baseAddress {
          UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: destination.count * 4)
        }
      #else
        convertElements(source, UInt32.self, into: destination) { Float(bitPattern: $0) }
      #endif
    case .float64: convertElements(source, UInt64.self, into: destination) { Float(Double(bitPattern: $0)) }
    case .float16: convertElements(source, UInt16.self, into: destination) { Float(float16Bits: $0) }
    case .bfloat16: convertElements(source, UInt16.self, into: destination) { Float(bfloat16Bits: $0) }
    case .int64: convertElements(source, UInt64.self, into: destination) { Float(Int64(bitPattern: $0)) }
    case .int32: convertElements(source, UInt32.self, into: destination) { Float(Int32(bitPattern: $0)) }
    case .int16: convertElements(source, UInt16.self, into: destination) { Float(Int16(bitPattern: $0)) }
    case .int8: convertElements(source, UInt8.self, into: destination) { Float(Int8(bitPattern: $0)) }
    case .uint8: convertElements(source, UInt8.self, into: destination) { Float($0) }
    case .bool: convertElements(source, UInt8.self, into: destination) { $0 == 0 ? 0 : 1 }
    }
  }
}

/// Reads `destination.count` little-endian words of type `Word` and stores `transform(word)`.
@inline(__always)
private func convertElements<Word: FixedWidthInteger>(
  _ source: UnsafeRawPointer, _: Word.Type, into destination: UnsafeMutableBufferPointer<Float>,
  _ transform: (Word) -> Float
) {
  let stride = MemoryLayout<Word>.size
  for index in destination.indices {
    let word = Word(littleEndian: source.loadUnaligned(fromByteOffset: index * stride, as: Word.self))
    destination[index] = transform(word)
  }
}

extension Float {
  /// The value of an IEEE 754 half-precision (binary16) bit pattern, exactly:
  /// subnormals, signed zeros, infinities and NaN payloads included.
  public init(float16Bits bits: UInt16) {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
      // Zero or subnormal: mantissa · 2⁻²⁴, exact in Float.
      let magnitude = Float(mantissa) * 0x1p-24
      self = sign == 0 ? magnitude : -magnitude
    case 0x1F:
      self = Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
      // Rebias the exponent from 15 to 127 and widen the mantissa from 10 to 23 bits.
      self = Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
  }

  /// The value of a bfloat16 bit pattern: the top half of a `Float`, so every
  /// value (subnormals, infinities, NaN) converts exactly.
  public init(bfloat16Bits bits: UInt16) {
    self = Float(bitPattern: UInt32(bits) << 16)
  }
}

extension Float {
  /// The largest finite half-precision value.
  public static let largestFloat16: Float = 65504

  /// The nearest IEEE 754 half-precision bit pattern (ties to even); values
  /// beyond ``largestFloat16`` become infinities, NaN stays NaN.
  public var float16Bits: UInt16 {
    let bits = bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x7F_FFFF
    if exponent == 0xFF { return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200) }
    let halfExponent = exponent - 112
    if halfExponent >= 0x1F { return sign | 0x7C00 }
    if halfExponent <= 0 {
      // Subnormal or zero: shift the full significand right, rounding to nearest even.
      guard halfExponent >= -10 else { return sign }
      let significand = mantissa | 0x80_0000
      let shift = UInt32(14 - halfExponent)
      var half = significand >> shift
      let remainder = significand & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
      if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
      return sign | UInt16(half)
    }
    // Normal: keep 10 mantissa bits; a carry out of the mantissa raises the exponent, as it should.
    var half = UInt32(halfExponent) << 10 | mantissa >> 13
    let remainder = mantissa & 0x1FFF
    if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
    return sign | UInt16(half)
  }

  /// The nearest bfloat16 bit pattern (ties to even); NaN stays NaN.
  public var bfloat16Bits: UInt16 {
    let bits = bitPattern
    if isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(rounded >> 16)
  }
}
