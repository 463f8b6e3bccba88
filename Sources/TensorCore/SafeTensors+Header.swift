/// One tensor as described by a safetensors header.
public struct SafeTensorsEntry: Sendable, Equatable {
  /// The tensor's key, e.g. `encoder.block.0.layer.0.SelfAttention.q.weight`.
  public let name: String
  /// The element type stored in the file.
  public let dtype: SafeTensorsDType
  /// The tensor's shape; `[]` for a scalar.
  public let shape: [Int]
  /// The tensor's bytes, relative to the start of the data buffer (which
  /// begins at ``SafeTensorsHeader/dataStart`` in the file).
  public let byteRange: Range<Int>

  /// The number of elements.
  public var elementCount: Int { Tensor.elementCount(shape) }
}

/// The validated header of a safetensors file: what it holds, without the data.
///
/// Validation follows the reference implementation: names are unique, every
/// dtype is known, byte ranges match shape × element size, and the ranges tile
/// the data buffer exactly — no overlap, no gap, no trailing bytes. Unknown keys
/// inside a tensor's entry are ignored, as the reference reader ignores them.
public struct SafeTensorsHeader: Sendable, Equatable {
  /// The tensors in the order of their bytes in the file.
  public let entries: [SafeTensorsEntry]
  /// The `__metadata__` strings (empty if the file has none).
  public let metadata: [String: String]
  /// The length in bytes of the JSON header, padding included.
  public let headerByteCount: Int

  /// The file offset of the data buffer: the 8-byte length plus the header.
  public var dataStart: Int { 8 + headerByteCount }
  /// The tensor names in file order.
  public var names: [String] { entries.map(\.name) }

  /// The entry called `name`, if there is one.
  public func entry(named name: String) -> SafeTensorsEntry? {
    entries.first { $0.name == name }
  }
}

extension SafeTensorsHeader {
  /// Parses and validates the header at the start of `file`, which holds at
  /// least the first `8 + N` bytes of a `fileByteCount`-byte file (all of it
  /// when shorter).
  static func parse(
    _ file: UnsafeRawBufferPointer, fileByteCount: Int, source: String
  ) throws(SafeTensorsError) -> SafeTensorsHeader {
    guard fileByteCount >= 8, file.count >= 8 else {
      throw .fileTooShort(source: source, byteCount: fileByteCount)
    }
    let declaredLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
    guard declaredLength <= UInt64(fileByteCount - 8) else {
      throw .headerLengthPastEnd(source: source, headerLength: declaredLength, fileByteCount: fileByteCount)
    }
    let headerLength = Int(declaredLength)
    guard file.count >= 8 + headerLength else {
      throw .unreadable(source: source, reason: "the file ended while reading its header")
    }
    let headerBytes = [UInt8](file[8..<(8 + headerLength)])
    guard isValidUTF8(headerBytes) else { throw .invalidHeaderJSON(source: source, reason: "not valid UTF-8") }
    let json = try parseJSON(headerBytes, source: source)
    guard case .object(let members) = json else { throw .headerNotObject(source: source, found: json.kind) }

    let reader = EntryReader(source: source, bufferByteCount: fileByteCount - 8 - headerLength)
    // The parser keeps keys apart byte for byte; Swift strings also equate
    // canonically equivalent ones (é composed or not), which must not merge.
    var seen = Set<String>()
    var metadata: [String: String] = [:]
    var entries: [SafeTensorsEntry] = []
    for (name, value) in members {
      guard seen.insert(name).inserted else { throw .duplicateName(source: source, name: name) }
      if name == SafeTensorsFile.metadataKey {
        metadata = try reader.metadata(value)
      } else {
        entries.append(try reader.entry(name, value))
      }
    }
    entries.sort {
      ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound)
    }
    try reader.checkCoverage(entries)
    return SafeTensorsHeader(entries: entries, metadata: metadata, headerByteCount: headerLength)
  }

  private static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue: continue
      case .emptyInput: return true
      case .error: return false
      }
    }
  }
}

/// Turns header JSON values into entries, naming the file and tensor in errors.
private struct EntryReader {
  let source: String
  let bufferByteCount: Int

  func metadata(_ value: JSONValue) throws(SafeTensorsError) -> [String: String] {
    guard case .object(let members) = value else {
      throw .invalidMetadata(source: source, reason: "must be an object, found \(value.kind)")
    }
    var metadata: [String: String] = [:]
    for (key, value) in members {
      guard case .string(let text) = value else {
        throw .invalidMetadata(source: source, reason: "value of '\(key)' must be a string, found \(value.kind)")
      }
      guard metadata.updateValue(text, forKey: key) == nil else {
        throw .invalidMetadata(source: source, reason: "has key '\(key)' more than once")
      }
    }
    return metadata
  }

  func entry(_ name: String, _ value: JSONValue) throws(SafeTensorsError) -> SafeTensorsEntry {
    func invalid(_ reason: String) -> SafeTensorsError { .invalidEntry(source: source, tensor: name, reason: reason) }
    guard case .object(let members) = value else { throw invalid("expected an object, found \(value.kind)") }
    var fields: [String: JSONValue] = [:]
    // Other keys are ignored, as the reference reader ignores them.
    for (key, value) in members {
      guard fields.updateValue(value, forKey: key) == nil else { throw invalid("key '\(key)' appears more than once") }
    }

    guard let dtypeValue = fields["dtype"] else { throw invalid("missing 'dtype'") }
    guard case .string(let dtypeName) = dtypeValue else { throw invalid("'dtype' must be a string") }
    guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
      throw .unknownDType(source: source, tensor: name, dtype: dtypeName)
    }

    guard let shapeValue = fields["shape"] else { throw invalid("missing 'shape'") }
    guard case .array(let dimensions) = shapeValue else { throw invalid("'shape' must be an array") }
    var shape: [Int] = []
    var byteCount = dtype.byteSize
    for (axis, dimension) in dimensions.enumerated() {
      guard let extent = dimension.integerValue, extent >= 0 else {
        throw .invalidShape(source: source, tensor: name, reason: "dimension \(axis) is \(Self.describe(dimension))")
      }
      let (product, overflow) = byteCount.multipliedReportingOverflow(by: extent)
      guard !overflow else {
        throw .invalidShape(source: source, tensor: name, reason: "\(dimensions.count)-dimensional shape is too large")
      }
      shape.append(extent)
      byteCount = product
    }

    guard let offsetsValue = fields["data_offsets"] else { throw invalid("missing 'data_offsets'") }
    guard case .array(let offsets) = offsetsValue, offsets.count == 2,
      let begin = offsets[0].integerValue, let end = offsets[1].integerValue, 0 <= begin, begin <= end
    else { throw invalid("'data_offsets' must be [begin, end] with 0 <= begin <= end") }
    guard end <= bufferByteCount else {
      throw .offsetsOutOfRange(source: source, tensor: name, begin: begin, end: end, bufferByteCount: bufferByteCount)
    }
    guard end - begin == byteCount else {
      throw .byteSizeMismatch(source: source, tensor: name, expected: byteCount, actual: end - begin)
    }
    return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
  }

  /// Checks that `entries`, sorted by offset, tile the data buffer exactly.
  func checkCoverage(_ entries: [SafeTensorsEntry]) throws(SafeTensorsError) {
    var covered = 0
    var previous: SafeTensorsEntry?
    for entry in entries {
      let begin = entry.byteRange.lowerBound
      if begin < covered, let previous {
        throw .overlappingOffsets(source: source, tensor: entry.name, other: previous.name)
      }
      if begin > covered {
        throw .uncoveredBytes(source: source, range: covered..<begin, previous: previous?.name)
      }
      covered = entry.byteRange.upperBound
      previous = entry
    }
    if covered < bufferByteCount {
      throw .uncoveredBytes(source: source, range: covered..<bufferByteCount, previous: previous?.name)
    }
  }

  private static func describe(_ value: JSONValue) -> String {
    if case .number = value { return value.jsonText }
    return value.kind
  }
}
