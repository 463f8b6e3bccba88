import Foundation
import JSONFormat
import TensorCore

/// How ``ModelExport`` writes weights: element type and the largest shard.
public struct WeightFileFormat: Sendable, Equatable {
  /// F32, F16 or BF16.
  public var dtype: SafeTensorsDType
  /// Above this many bytes of tensor data the weights are split into shards
  /// with an index, as the reference's `save_pretrained(max_shard_size:)`
  /// does; nil writes one `model.safetensors`.
  public var maxShardBytes: Int?
  /// Quantized layers written dequantized (a folder any reference loader
  /// reads) instead of in their stored form (I8 + scales, BF16).
  public var dense: Bool

  public init(dtype: SafeTensorsDType = .float32, maxShardBytes: Int? = nil, dense: Bool = false) {
    self.dtype = dtype
    self.maxShardBytes = maxShardBytes
    self.dense = dense
  }

  /// Parses a shard size the way the reference does: `5GB`, `500MB`, `200KB`
  /// (powers of 1000), `2GiB`, `10MiB`, `64KiB` (powers of 1024) or bytes.
  public static func parseSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [
      ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1),
    ]
    let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
    let (number, scale) = units.first { upper.hasSuffix($0.0) }.map { (String(upper.dropLast($0.0.count)), $0.1) } ?? (upper, 1)
    guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 1,
      value * Double(scale) < Double(1 << 50)
    else { return nil }
    return Int(value * Double(scale))
  }

  /// Parses `f32`, `f16` or `bf16` (any case).
  public static func parseDType(_ text: String) -> SafeTensorsDType? {
    switch text.lowercased() {
    case "f32", "float32": .float32
    case "f16", "float16": .float16
    case "bf16", "bfloat16": .bfloat16
    default: nil
    }
  }
}

/// A model folder's weight files: one `model.safetensors`, or shards named by
/// `model.safetensors.index.json` (`{"metadata": {"total_size": …}, "weight_map": {key: file}}`).
public enum CheckpointFiles {
  public static let singleFileName = "model.safetensors"
  public static let indexFileName = "model.safetensors.index.json"

  /// Whether `name` is a shard name as ``write(_:metadata:into:format:)`` makes them.
  public static func isShardName(_ name: String) -> Bool {
    name.wholeMatch(of: /model-[0-9]{5}-of-[0-9]{5}\.safetensors/) != nil
  }

  /// Whether `folder` holds weights in either layout.
  public static func hasWeights(in folder: URL) -> Bool {
    [singleFileName, indexFileName].contains { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
  }

  /// Reads every weight of `folder` (the single file when both layouts are
  /// there, as the reference prefers it). Returns the tensors and the file
  /// that errors about them should name.
  /// `int8Names`: the tensors a quantized model may store as I8; `uint8Names`:
  /// those a pruned one may store as U8 (packed masks).
  public static func readWeights(
    in folder: URL, int8Names: Set<String> = [], uint8Names: Set<String> = []
  ) throws -> (tensors: [String: Tensor], source: String) {
    let single = folder.appendingPathComponent(singleFileName)
    if FileManager.default.fileExists(atPath: single.path) {
      return (try SafeTensorsFile.readWeights(from: single, int8Names: int8Names, uint8Names: uint8Names).tensors, single.path)
    }
    let index = folder.appendingPathComponent(indexFileName)
    guard FileManager.default.fileExists(atPath: index.path) else { throw ModelFolderError.missingFile(single.path) }
    return (try readShards(index: index, int8Names: int8Names, uint8Names: uint8Names), index.path)
  }

  /// Reads the shards an index names. Every key must be in the shard the
  /// index names, and every tensor of a shard must be listed for that shard.
  static func readShards(index: URL, int8Names: Set<String>, uint8Names: Set<String>) throws -> [String: Tensor] {
    let weightMap = try parseIndex(FileAccess.read(index), source: index.path)
    var keysByShard: [String: Set<String>] = [:]
    for (key, shard) in weightMap { keysByShard[shard, default: []].insert(key) }
    var tensors: [String: Tensor] = [:]
    for shard in keysByShard.keys.sorted() {
      let url = index.deletingLastPathComponent().appendingPathComponent(shard)
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw ModelFolderError.invalidShardIndex(file: index.path, reason: "names shard '\(shard)', which is missing")
      }
      let expected = keysByShard[shard]!
      let present = Set(try SafeTensorsFile.readHeader(from: url).entries.map(\.name))
      if let missing = expected.subtracting(present).sorted().first {
        throw ModelFolderError.missingShardTensor(index: index.path, key: missing, shard: url.path)
      }
      if let extra = present.subtracting(expected).sorted().first {
        throw ModelFolderError.unlistedShardTensor(shard: url.path, key: extra, index: index.path)
      }
      for (key, tensor) in try SafeTensorsFile.readWeights(from: url, int8Names: int8Names, uint8Names: uint8Names).tensors { tensors[key] = tensor }
    }
    return tensors
  }

  /// The bytes of `folder`'s weight files (the single file, or the index and its shards).
  public static func byteCount(in folder: URL) throws -> Int {
    let single = folder.appendingPathComponent(singleFileName), index = folder.appendingPathComponent(indexFileName)
    let files = FileManager.default.fileExists(atPath: single.path)
      ? [single] : [index] + (try shardNames(index: index)).map { folder.appendingPathComponent($0) }
    return try files.reduce(0) { total, file in
      guard let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int else {
        throw ModelFolderError.missingFile(file.path)
      }
      return total + size
    }
  }

  /// The shard files an index names (each once).
  public static func shardNames(index: URL) throws -> [String] {
    Set(try parseIndex(FileAccess.read(index), source: index.path).values).sorted()
  }

  /// The `weight_map` of an index file: tensor key → shard file name.
  static func parseIndex(_ data: Data, source: String) throws -> [String: String] {
    func invalid(_ reason: String) -> ModelFolderError { .invalidShardIndex(file: source, reason: reason) }
    let value: JSONValue
    do { value = try JSONValue.parse(data) } catch { throw invalid("invalid JSON, \(error.description)") }
    guard case .object = value else { throw invalid("expected a JSON object, found \(value.kind)") }
    if let metadata = value["metadata"] {
      guard case .object = metadata else { throw invalid("field 'metadata': expected an object, found \(metadata.kind)") }
      if let size = metadata["total_size"], (size.integerValue ?? -1) < 0 {
        throw invalid("field 'metadata.total_size': expected a non-negative integer, found \(size.jsonText)")
      }
    }
    guard case .object(let members)? = value["weight_map"] else {
      throw invalid("field 'weight_map': expected an object of tensor names to shard files")
    }
    guard !members.isEmpty else { throw invalid("field 'weight_map' is empty") }
    var map: [String: String] = [:]
    for (key, file) in members {
      guard case .string(let name) = file else {
        throw invalid("field 'weight_map.\(key)': expected a file name, found \(file.kind)")
      }
      // A shard is a file beside the index, never a path elsewhere.
      guard !name.isEmpty, !name.contains("/"), !name.contains("\\"), name != ".", name != ".." else {
        throw invalid("field 'weight_map.\(key)': '\(name)' is not a file name in the model folder")
      }
      map[key] = name
    }
    return map
  }

  /// Writes `tensors` into `folder` as one file, or as shards of at most
  /// `format.maxShardBytes` each (a tensor larger than that gets a shard of its
  /// own) plus the index. Tensors go in name order, filling each shard before
  /// the next, as the reference does with its state-dict order.
  public static func write(
    _ tensors: [String: Tensor], metadata: [String: String], into folder: URL, format: WeightFileFormat,
    dtypes: [String: SafeTensorsDType] = [:]
  ) throws {
    let names = tensors.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    let bytes = { (name: String) in tensors[name]!.count * (dtypes[name] ?? format.dtype).byteSize }
    var shards: [[String]] = [[]]
    var shardBytes = 0
    for name in names {
      if let limit = format.maxShardBytes, !shards[shards.count - 1].isEmpty, shardBytes + bytes(name) > limit {
        shards.append([])
        shardBytes = 0
      }
      shards[shards.count - 1].append(name)
      shardBytes += bytes(name)
    }
    func file(_ names: [String]) -> SafeTensorsFile {
      SafeTensorsFile(tensors: Dictionary(uniqueKeysWithValues: names.map { ($0, tensors[$0]!) }), metadata: metadata)
    }
    guard shards.count > 1 else {
      try file(names).write(to: folder.appendingPathComponent(singleFileName), dtype: format.dtype, dtypes: dtypes)
      return
    }
    var weightMap: [String: String] = [:]
    for (number, shard) in shards.enumerated() {
      let name = String(format: "model-%05d-of-%05d.safetensors", number + 1, shards.count)
      try file(shard).write(to: folder.appendingPathComponent(name), dtype: format.dtype, dtypes: dtypes)
      for key in shard { weightMap[key] = name }
    }
    let index: [String: Any] = [
      "metadata": ["total_size": names.reduce(0) { $0 + bytes($1) }, "total_parameters": names.reduce(0) { $0 + tensors[$1]!.count }],
      "weight_map": weightMap,
    ]
    let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(data, to: folder.appendingPathComponent(indexFileName))
  }
}
