import Foundation

/// Why a safetensors file could not be read or written. Every case names the
/// file (`source`: its path, or the label given for in-memory data) and, where
/// one is involved, the tensor.
public enum SafeTensorsError: LocalizedError, CustomStringConvertible, Equatable {
  /// The file could not be opened or read.
  case unreadable(source: String, reason: String)
  /// Fewer than the 8 bytes of the header length.
  case fileTooShort(source: String, byteCount: Int)
  /// The header length points past the end of the file.
  case headerLengthPastEnd(source: String, headerLength: UInt64, fileByteCount: Int)
  /// The header is not valid UTF-8 JSON.
  case invalidHeaderJSON(source: String, reason: String)
  /// The header is valid JSON but not an object.
  case headerNotObject(source: String, found: String)
  /// Two header entries share a name.
  case duplicateName(source: String, name: String)
  /// A tensor's entry is not `{"dtype": …, "shape": […], "data_offsets": [begin, end]}`.
  case invalidEntry(source: String, tensor: String, reason: String)
  /// A dtype that is not one of ``SafeTensorsDType``.
  case unknownDType(source: String, tensor: String, dtype: String)
  /// A shape with a negative or non-integer dimension, or too many elements.
  case invalidShape(source: String, tensor: String, reason: String)
  /// A tensor's bytes reach past the end of the data buffer.
  case offsetsOutOfRange(source: String, tensor: String, begin: Int, end: Int, bufferByteCount: Int)
  /// Two tensors' byte ranges overlap.
  case overlappingOffsets(source: String, tensor: String, other: String)
  /// Bytes of the data buffer that belong to no tensor: a gap between tensors
  /// (after `previous`, `nil` at the start) or trailing bytes. Rejected, as the
  /// reference implementation does, because the buffer must be covered exactly.
  case uncoveredBytes(source: String, range: Range<Int>, previous: String?)
  /// A tensor's byte range does not match its shape times its element size.
  case byteSizeMismatch(source: String, tensor: String, expected: Int, actual: Int)
  /// `__metadata__` is not an object of string values.
  case invalidMetadata(source: String, reason: String)
  /// A tensor to be written uses the reserved name `__metadata__`.
  case reservedName(source: String, name: String)
  /// A weight stored as integers or booleans.
  case nonFloatingPointWeight(source: String, tensor: String, dtype: String)
  /// A weight holding a NaN or an infinity (`index` counts elements row-major).
  case nonFiniteWeight(source: String, tensor: String, index: Int, value: Float)
  /// A dtype Tessera does not write (it writes F32, F16, BF16, I8 and U8).
  case unwritableDType(source: String, dtype: String)
  /// A value that the dtype being written cannot hold (F16 above 65504, I8 outside −128…127, U8 outside 0…255, or not an integer).
  case valueOutOfRange(source: String, tensor: String, index: Int, value: Float, dtype: String)

  public var description: String {
    switch self {
    case .unreadable(let source, let reason):
      "\(source): cannot read safetensors file: \(reason)"
    case .fileTooShort(let source, let byteCount):
      "\(source): not a safetensors file: \(byteCount) bytes, shorter than the 8-byte header length"
    case .headerLengthPastEnd(let source, let headerLength, let fileByteCount):
      "\(source): header length \(headerLength) reaches past the end of the \(fileByteCount)-byte file"
    case .invalidHeaderJSON(let source, let reason):
      "\(source): header is not valid JSON: \(reason)"
    case .headerNotObject(let source, let found):
      "\(source): header must be a JSON object, found \(found)"
    case .duplicateName(let source, let name):
      "\(source): tensor name '\(name)' appears more than once in the header"
    case .invalidEntry(let source, let tensor, let reason):
      "\(source): tensor '\(tensor)': \(reason)"
    case .unknownDType(let source, let tensor, let dtype):
      "\(source): tensor '\(tensor)' has dtype '\(dtype)', which Tessera cannot read "
        + "(supported: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))"
    case .invalidShape(let source, let tensor, let reason):
      "\(source): tensor '\(tensor)' has an invalid shape: \(reason)"
    case .offsetsOutOfRange(let source, let tensor, let begin, let end, let bufferByteCount):
      "\(source): tensor '\(tensor)' data_offsets [\(begin), \(end)] reach past the "
        + "\(bufferByteCount)-byte data buffer"
    case .overlappingOffsets(let source, let tensor, let other):
      "\(source): tensor '\(tensor)' overlaps the bytes of tensor '\(other)'"
    case .uncoveredBytes(let source, let range, let previous):
      "\(source): bytes \(range.lowerBound)..<\(range.upperBound) of the data buffer belong to no tensor"
        + (previous.map { " (after '\($0)')" } ?? "")
    case .byteSizeMismatch(let source, let tensor, let expected, let actual):
      "\(source): tensor '\(tensor)' needs \(expected) bytes for its shape and dtype, data_offsets give \(actual)"
    case .invalidMetadata(let source, let reason):
      "\(source): __metadata__ \(reason)"
    case .reservedName(let source, let name):
      "\(source): '\(name)' is reserved and cannot name a tensor"
    case .nonFloatingPointWeight(let source, let tensor, let dtype):
      "\(source): tensor '\(tensor)' is stored as \(dtype); weights must be F32, F16, BF16 or F64"
    case .nonFiniteWeight(let source, let tensor, let index, let value):
      "\(source): tensor '\(tensor)' holds \(value) at element \(index); weights must be finite"
    case .unwritableDType(let source, let dtype):
      "\(source): Tessera writes F32, F16, BF16, I8 (quantized weights) or U8 (pruning masks), not \(dtype)"
    case .valueOutOfRange(let source, let tensor, let index, let value, let dtype):
      "\(source): tensor '\(tensor)' holds \(value) at element \(index), beyond the range of \(dtype)"
    }
  }

  public var errorDescription: String? { description }
}
