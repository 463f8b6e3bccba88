import Foundation

/// The tensors and metadata of a safetensors file, the weight format of
/// Hugging Face checkpoints.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}`, then the data buffer; offsets count from
/// the buffer's start.
///
/// Reading accepts every ``SafeTensorsDType`` and converts to `Float`; a
/// malformed file throws a ``SafeTensorsError`` naming the file and the
/// problem. Writing produces F32 only, tensors sorted by name, like the
/// reference writer.
///
/// ```swift
/// let file = try SafeTensorsFile.read(from: modelURL)
/// let embedding = file.tensors["shared.weight"]
/// let header = try SafeTensorsFile.readHeader(from: modelURL)  // names and shapes only
/// ```
public struct SafeTensorsFile: Sendable {
  /// The tensors by name.
  public var tensors: [String: Tensor]
  /// The `__metadata__` strings.
  public var metadata: [String: String]

  /// The header key that holds metadata rather than a tensor.
  public static let metadataKey = "__metadata__"

  /// A file holding `tensors` and `metadata`.
  public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// Reads every tensor of the file at `url`, converting to `Float`.
  public static func read(from url: URL) throws -> SafeTensorsFile {
    try read(from: url) { _ in true }
  }

  /// Reads the tensors of the file at `url` for which `include` is true; the
  /// whole header is still validated. The file is memory-mapped, so tensors
  /// left out are never read from disk.
  public static func read(
    from url: URL, where include: (SafeTensorsEntry) -> Bool
  ) throws -> SafeTensorsFile {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw SafeTensorsError.unreadable(source: url.path, reason: error.localizedDescription)
    }
    return try read(data: data, source: url.path, where: include)
  }

  /// Reads every tensor of a safetensors file held in memory; `source` names
  /// it in error messages.
  public static func read(data: Data, source: String) throws -> SafeTensorsFile {
    try read(data: data, source: source) { _ in true }
  }

  /// Reads the tensors for which `include` is true from a safetensors file
  /// held in memory; `source` names it in error messages.
  public static func read(
    data: Data, source: String, where include: (SafeTensorsEntry) -> Bool
  ) throws -> SafeTensorsFile {
    try data.withUnsafeBytes { file in
      let header = try SafeTensorsHeader.parse(file, fileByteCount: file.count, source: source)
      let buffer = UnsafeRawBufferPointer(rebasing: file[header.dataStart...])
      var tensors: [String: Tensor] = [:]
      for entry in header.entries where include(entry) {
        tensors[entry.name] = decode(entry, from: buffer)
      }
      return SafeTensorsFile(tensors: tensors, metadata: header.metadata)
    }
  }

  /// Reads the file at `url` as model weights: every tensor must be stored
  /// in a floating-point dtype (an integer or BOOL tensor where weights are
  /// expected is a wrong file, not a weight), except the I8 tensors named in
  /// `int8Names` (a quantized model's) and the U8 ones in `uint8Names` (a
  /// pruned model's packed masks), and hold finite values only.
  public static func readWeights(from url: URL, int8Names: Set<String> = [], uint8Names: Set<String> = []) throws -> SafeTensorsFile {
    let header = try readHeader(from: url)
    let allowed = { (entry: SafeTensorsEntry) in
      entry.dtype.isFloatingPoint || (entry.dtype == .int8 && int8Names.contains(entry.name))
        || (entry.dtype == .uint8 && uint8Names.contains(entry.name))
    }
    if let integral = header.entries.first(where: { !allowed($0) }) {
      throw SafeTensorsError.nonFloatingPointWeight(source: url.path, tensor: integral.name, dtype: integral.dtype.rawValue)
    }
    let file = try read(from: url)
    try requireFinite(file.tensors, source: url.path)
    return file
  }

  /// Throws ``SafeTensorsError/nonFiniteWeight(source:tensor:index:value:)``
  /// for the first tensor (in name order) holding a NaN or an infinity.
  public static func requireFinite(_ tensors: [String: Tensor], source: String) throws {
    for name in tensors.keys.sorted() {
      let scalars = tensors[name]!.scalars
      if let index = scalars.firstIndex(where: { !$0.isFinite }) {
        throw SafeTensorsError.nonFiniteWeight(source: source, tensor: name, index: index, value: scalars[index])
      }
    }
  }

  /// Reads and validates only the header of the file at `url`: names, dtypes,
  /// shapes, offsets and metadata, without touching the tensor data.
  public static func readHeader(from url: URL) throws -> SafeTensorsHeader {
    let source = url.path
    do {
      let handle = try FileHandle(forReadingFrom: url)
      defer { try? handle.close() }
      let fileByteCount = Int(try handle.seekToEnd())
      try handle.seek(toOffset: 0)
      var prefix = try handle.read(upToCount: 8) ?? Data()
      if prefix.count == 8 {
        let headerLength = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        if headerLength <= UInt64(fileByteCount - 8), headerLength > 0 {
          prefix.append(try handle.read(upToCount: Int(headerLength)) ?? Data())
        }
      }
      return try prefix.withUnsafeBytes {
        try SafeTensorsHeader.parse($0, fileByteCount: fileByteCount, source: source)
      }
    } catch let error as SafeTensorsError {
      throw error
    } catch {
      throw SafeTensorsError.unreadable(source: source, reason: error.localizedDescription)
    }
  }

  /// Reads and validates only the header of a safetensors file held in memory.
  public static func readHeader(data: Data, source: String) throws -> SafeTensorsHeader {
    try data.withUnsafeBytes { try SafeTensorsHeader.parse($0, fileByteCount: $0.count, source: source) }
  }

  /// Converts one validated entry's bytes from the data buffer to a tensor.
  private static func decode(_ entry: SafeTensorsEntry, from buffer: UnsafeRawBufferPointer) -> Tensor {
    var tensor = Tensor(uninitializedShape: entry.shape)
    if let base = buffer.baseAddress, !entry.byteRange.isEmpty {
      tensor.withMutableValues { entry.dtype.convert(base + entry.byteRange.lowerBound, into: $0) }
    }
    return tensor
  }
}
