import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

/// Sharded weights and the F16/BF16 export: reading indexes strictly, writing like the reference.
final class CheckpointFilesTests: TemporaryFolderTestCase {
  /// A copy of the sharded fixture whose index `edit` may change.
  private func shardedCopy(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> (folder: URL, index: URL) {
    let folder = temporary.appendingPathComponent("m\(UUID().uuidString.prefix(6))")
    try FileManager.default.copyItem(at: try ReferenceFixture("mt5_sharded").folder, to: folder)
    let index = folder.appendingPathComponent(CheckpointFiles.indexFileName)
    var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any])
    edit(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: index)
    return (folder, index)
  }

  private func weightMap(_ json: [String: Any]) -> [String: String] { json["weight_map"] as! [String: String] }

  func testIndexErrorsNameTheFileAndTheKey() throws {
    let key = "decoder.final_layer_norm.weight"
    var shard = ""
    let moved = try shardedCopy { json in
      var map = weightMap(json)
      shard = map[key]!
      map[key] = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"].first { $0 != shard }!
      json["weight_map"] = map
    }
    XCTAssertThrowsError(try ModelLoading.load(from: moved.folder)) { error in
      guard case .missingShardTensor(let index, let missing, let inShard)? = error as? ModelFolderError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(index, moved.index.path)
      XCTAssertEqual(missing, key)
      XCTAssertNotEqual(URL(fileURLWithPath: inShard).lastPathComponent, shard)
    }
    let dropped = try shardedCopy { json in
      var map = weightMap(json)
      map[key] = nil
      json["weight_map"] = map
    }
    XCTAssertThrowsError(try ModelLoading.load(from: dropped.folder)) { error in
      XCTAssertTrue(String(describing: error).contains("tensor '\(key)' is not listed"), "\(error)")
    }
    for (value, expected) in [
      ("../model-00001-of-00003.safetensors", "is not a file name in the model folder"), ("gone.safetensors", "which is missing"),
    ] {
      let bad = try shardedCopy { json in
        var map = weightMap(json)
        map[key] = value
        json["weight_map"] = map
      }
      XCTAssertThrowsError(try ModelLoading.load(from: bad.folder)) { error in
        XCTAssertTrue(String(describing: error).hasPrefix(bad.index.path), "\(error)")
        XCTAssertTrue(String(describing: error).contains(expected), "\(error)")
      }
    }
    let noMap = try shardedCopy { $0["weight_map"] = [1, 2] }
    XCTAssertThrowsError(try ModelLoading.load(from: noMap.folder)) { error in
      XCTAssertTrue(String(describing: error).contains("field 'weight_map'"), "\(error)")
    }
    let badSize = try shardedCopy { $0["metadata"] = ["total_size": -3] }
    XCTAssertThrowsError(try ModelLoading.load(from: badSize.folder)) { error in
      XCTAssertTrue(String(describing: error).contains("metadata.total_size"), "\(error)")
    }
  }

  func testShardedExportRoundTripsAndSplitsLikeTheReference() throws {
    let fixture = try ReferenceFixture("bart_untied")
    let model = try ModelLoading.load(from: fixture.folder)
    let tensors = model.checkpointTensors()
    let out = temporary.appendingPathComponent("sharded")
    let limit = 30_000
    try ModelExport.save(model, to: out, format: WeightFileFormat(maxShardBytes: limit))
    let map = try CheckpointFiles.parseIndex(
      Data(contentsOf: out.appendingPathComponent(CheckpointFiles.indexFileName)), source: "index")
    XCTAssertEqual(Set(map.keys), Set(tensors.keys))
    let shards = Set(map.values).sorted()
    XCTAssertEqual(shards, (1...shards.count).map { String(format: "model-%05d-of-%05d.safetensors", $0, shards.count) })
    XCTAssertGreaterThan(shards.count, 1)
    for shard in shards {
      let bytes = map.filter { $0.value == shard }.keys.reduce(0) { $0 + tensors[$1]!.count * 4 }
      let largest = map.filter { $0.value == shard }.keys.map { tensors[$0]!.count * 4 }.max()!
      XCTAssertTrue(bytes <= limit || largest > limit, "\(shard): \(bytes) bytes")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(CheckpointFiles.singleFileName).path))
    let reloaded = try ModelLoading.load(from: out)
    let batch = try fixture.batch()
    XCTAssertEqual(withoutGradient { reloaded.forward(batch) }.scalars, withoutGradient { model.forward(batch) }.scalars)
  }

  func testHalfPrecisionExportsRoundAndReloadClose() throws {
    let fixture = try ReferenceFixture("flan_t5")
    let model = try ModelLoading.load(from: fixture.folder)
    let batch = try fixture.batch()
    let reference = withoutGradient { model.forward(batch) }
    for (dtype, tolerance) in [(SafeTensorsDType.float16, Float(3e-2)), (.bfloat16, 2e-1)] {
      let out = temporary.appendingPathComponent(dtype.rawValue)
      try ModelExport.save(model, to: out, format: WeightFileFormat(dtype: dtype))
      let header = try SafeTensorsFile.readHeader(from: out.appendingPathComponent(CheckpointFiles.singleFileName))
      XCTAssertTrue(header.entries.allSatisfy { $0.dtype == dtype })
      let logits = withoutGradient { try! ModelLoading.load(from: out).forward(batch) }
      let error = relativeMaxError(logits, reference)
      XCTAssertGreaterThan(error, 0, "\(dtype) rounds")
      XCTAssertLessThanOrEqual(error, tolerance, "\(dtype)")
    }
  }

  func testHalfPrecisionBitsRoundToNearestEven() {
    let cases: [(Float, UInt16)] = [
      (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF), (0x1p-24, 0x0001), (0x1p-25, 0x0000),
      (0x1.8p-25, 0x0001), (1 + 0x1p-11, 0x3C00), (1 + 0x1.8p-11, 0x3C01), (1 + 0x1p-10 + 0x1p-11, 0x3C02),
      (.infinity, 0x7C00), (0.1, 0x2E66),
    ]
    for (value, bits) in cases {
      XCTAssertEqual(value.float16Bits, bits, "\(value)")
      if bits & 0x7C00 != 0x7C00 { XCTAssertEqual(Float(float16Bits: value.float16Bits), Float(float16Bits: bits)) }
    }
    XCTAssertTrue(Float(float16Bits: Float.nan.float16Bits).isNaN)
    XCTAssertEqual(Float(1).bfloat16Bits, 0x3F80)
    XCTAssertEqual(Float(bitPattern: 0x3F80_8000).bfloat16Bits, 0x3F80, "tie to even stays")
    XCTAssertEqual(Float(bitPattern: 0x3F81_8000).bfloat16Bits, 0x3F82, "tie to even rounds up")
    XCTAssertEqual(Float(bitPattern: 0x3F80_8001).bfloat16Bits, 0x3F81)
    XCTAssertTrue(Float(bfloat16Bits: Float.nan.bfloat16Bits).isNaN)
  }

  func testHalfPrecisionRefusesValuesItCannotHold() throws {
    let file = SafeTensorsFile(tensors: ["w": Tensor([1, 70000], shape: [2])])
    XCTAssertThrowsError(try file.serialized(dtype: .float16)) { error in
      XCTAssertEqual(error as? SafeTensorsError, .valueOutOfRange(source: "<memory>", tensor: "w", index: 1, value: 70000, dtype: "F16"))
    }
    XCTAssertNoThrow(try file.serialized(dtype: .bfloat16))
    XCTAssertThrowsError(try file.serialized(dtype: .int8)) { error in
      XCTAssertEqual(error as? SafeTensorsError, .valueOutOfRange(source: "<memory>", tensor: "w", index: 1, value: 70000, dtype: "I8"))
    }
    XCTAssertThrowsError(try SafeTensorsFile(tensors: ["q": Tensor([1, 2.5], shape: [2])]).serialized(dtype: .int8)) { error in
      XCTAssertEqual(error as? SafeTensorsError, .valueOutOfRange(source: "<memory>", tensor: "q", index: 1, value: 2.5, dtype: "I8"))
    }
    XCTAssertThrowsError(try file.serialized(dtype: .int32)) { error in
      XCTAssertEqual(error as? SafeTensorsError, .unwritableDType(source: "<memory>", dtype: "I32"))
    }
    XCTAssertThrowsError(try SafeTensorsFile(tensors: ["m": Tensor([0, 255, -1], shape: [3])]).serialized(dtype: .uint8)) { error in
      XCTAssertEqual(error as? SafeTensorsError, .valueOutOfRange(source: "<memory>", tensor: "m", index: 2, value: -1, dtype: "U8"))
    }
    let bytes = try SafeTensorsFile(tensors: ["m": Tensor([0, 7, 255], shape: [3])]).serialized(dtype: .uint8)
    XCTAssertEqual(Array(bytes.suffix(3)), [0, 7, 255])
    XCTAssertEqual(try SafeTensorsFile.read(data: bytes, source: "m").tensors["m"]?.scalars, [0, 7, 255])
  }

  func testShardSizesParseLikeTheReference() {
    XCTAssertEqual(WeightFileFormat.parseSize("5GB"), 5_000_000_000)
    XCTAssertEqual(WeightFileFormat.parseSize("500MB"), 500_000_000)
    XCTAssertEqual(WeightFileFormat.parseSize("64KiB"), 65536)
    XCTAssertEqual(WeightFileFormat.parseSize("2gib"), 2 << 30)
    XCTAssertEqual(WeightFileFormat.parseSize("1000"), 1000)
    for bad in ["", "GB", "-1MB", "0", "1.5XB", "nanMB", "1e300GB"] { XCTAssertNil(WeightFileFormat.parseSize(bad), bad) }
  }
}
