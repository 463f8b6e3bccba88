import Foundation

extension SafeTensorsFile {
  /// Writes the tensors as `dtype` (F32, F16 or BF16, rounded to nearest
  /// even), or as `dtypes[name]` where that names one (also I8 and U8, whose
  /// values must be integers in −128…127 and 0…255), atomically (see ``AtomicFile``).
  ///
  /// The header lists `__metadata__` first (keys sorted), then the tensors in
  /// byte order of their names, whose data follow in the same order; it is
  /// padded with spaces to a multiple of 8 bytes, as the reference writer does,
  /// so the data buffer stays 8-byte aligned. Assumes a little-endian host.
  public func write(to url: URL, dtype: SafeTensorsDType = .float32, dtypes: [String: SafeTensorsDType] = [:]) throws {
    let layout = try makeLayout(source: url.path, dtype: dtype, dtypes: dtypes)
    try AtomicFile.write(to: url) { writer in
      try layout.forEachPart { try writer.write($0) }
    }
  }

  /// The bytes ``write(to:)`` would write.
  public func serialized(dtype: SafeTensorsDType = .float32) throws -> Data {
    let layout = try makeLayout(source: "<memory>", dtype: dtype, dtypes: [:])
    var data = Data(capacity: layout.byteCount)
    layout.forEachPart { data.append(contentsOf: $0) }
    return data
  }

  private func makeLayout(
    source: String, dtype defaultType: SafeTensorsDType, dtypes: [String: SafeTensorsDType]
  ) throws(SafeTensorsError) -> Layout {
    if tensors[Self.metadataKey] != nil { throw .reservedName(source: source, name: Self.metadataKey) }
    for dtype in [defaultType] + dtypes.values where ![.float32, .float16, .bfloat16, .int8, .uint8].contains(dtype) {
      throw .unwritableDType(source: source, dtype: dtype.rawValue)
    }
    // Byte order, as the reference writer sorts, rather than Swift's Unicode order.
    let ordered = tensors.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }

    var members: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        .map { JSONString.quoted($0.key) + ":" + JSONString.quoted($0.value) }
      members.append(JSONString.quoted(Self.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
    }
    var offset = 0
    var types: [SafeTensorsDType] = []
    for (name, tensor) in ordered {
      let dtype = dtypes[name] ?? defaultType
      types.append(dtype)
      let integerRange: ClosedRange<Float>? = dtype == .int8 ? -128...127 : (dtype == .uint8 ? 0...255 : nil)
      if let integerRange, let index = tensor.scalars.firstIndex(where: { $0 != $0.rounded() || !integerRange.contains($0) }) {
        throw .valueOutOfRange(source: source, tensor: name, index: index, value: tensor.scalars[index], dtype: dtype.rawValue)
      }
      if dtype == .float16, let index = tensor.scalars.firstIndex(where: { $0.isFinite && abs($0) > Float.largestFloat16 }) {
        throw .valueOutOfRange(source: source, tensor: name, index: index, value: tensor.scalars[index], dtype: dtype.rawValue)
      }
      let end = offset + tensor.count * dtype.byteSize
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      members.append(
        JSONString.quoted(name) + ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    var header = Array(("{" + members.joined(separator: ",") + "}").utf8)
    header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
    return Layout(header: header, tensors: ordered.map(\.value), dtypes: types, dataByteCount: offset)
  }

}

/// The byte sequence of a file to write: length, header, then each tensor's data.
private struct Layout {
  let header: [UInt8]
  let tensors: [Tensor]
  /// Each tensor's file type.
  let dtypes: [SafeTensorsDType]
  let dataByteCount: Int

  var byteCount: Int { 8 + header.count + dataByteCount }

  func forEachPart(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try body($0) }
    try header.withUnsafeBytes { try body($0) }
    for (tensor, dtype) in zip(tensors, dtypes) {
      switch dtype {
      case .float16: try [UInt16](tensor.scalars.map(\.float16Bits)).withUnsafeBytes { try body($0) }
      case .bfloat16: try [UInt16](tensor.scalars.map(\.bfloat16Bits)).withUnsafeBytes { try body($0) }
      case .int8: try [Int8](tensor.scalars.map { Int8($0) }).withUnsafeBytes { try body($0) }
      case .uint8: try [UInt8](tensor.scalars.map { UInt8($0) }).withUnsafeBytes { try body($0) }
      default: try tensor.withValues { try body(UnsafeRawBufferPointer($0)) }
      }
    }
  }
}
