import Foundation
import JSONFormat
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

/// Magnitude-pruned folders: weights stored as packed masks and kept values, decoded at load.
final class SparseWeightStorageTests: TemporaryFolderTestCase {
  private func prunedModel(sparsity: Double = 0.7, scope: PruningScope = .global) -> T5Model {
    var generator = SeededRandom(seed: 11)
    let model = T5Model(TinyModels.t5(gated: true, tied: false, encoderLayers: 1, decoderLayers: 2), using: &generator)
    MagnitudePruning.prune(model, sparsity: sparsity, scope: scope, targets: [.attention, .ffn])
    return model
  }

  private var weightFile: URL { temporary.appendingPathComponent("sparse/model.safetensors") }
  private var configFile: URL { temporary.appendingPathComponent("sparse/config.json") }

  func testSparseFoldersRoundTripExactlyAndAreSmallerThanDense() throws {
    let model = prunedModel()
    // A −0 stays −0: entries are kept by their bits, not by value.
    let key = "encoder.block.0.layer.0.SelfAttention.q"
    let q = try XCTUnwrap(LinearLayers.all(in: model).first { $0.key == key }?.layer as? Linear)
    var weight = q.weight.value.detached()
    weight.withMutableValues { $0[$0.firstIndex(of: 0)!] = -0.0 }
    q.weight.value = weight
    try ModelExport.save(model, to: temporary.appendingPathComponent("sparse"))
    try ModelExport.save(model, to: temporary.appendingPathComponent("dense"), format: WeightFileFormat(dense: true))

    let header = try SafeTensorsFile.readHeader(from: weightFile)
    XCTAssertEqual(header.entries.first { $0.name == "\(key).weight_mask" }?.dtype, .uint8)
    XCTAssertNil(header.entries.first { $0.name == "\(key).weight" })
    let section = try XCTUnwrap(JSONValue.parse(FileAccess.read(configFile))[SparseWeightStorage.sectionKey])
    XCTAssertEqual(section["layers"].map { if case .array(let keys) = $0 { keys.count } else { 0 } }, 29)
    XCTAssertLessThan(
      try CheckpointFiles.byteCount(in: temporary.appendingPathComponent("sparse")),
      try CheckpointFiles.byteCount(in: temporary.appendingPathComponent("dense")) * 7 / 10)

    let loaded = try ModelLoading.load(from: temporary.appendingPathComponent("sparse"))
    let (original, reloaded) = (model.stateDictionary(), loaded.stateDictionary())
    XCTAssertEqual(Set(original.keys), Set(reloaded.keys))
    for (name, tensor) in original {
      XCTAssertEqual(tensor.scalars.map(\.bitPattern), reloaded[name]!.scalars.map(\.bitPattern), name)
    }
    XCTAssertEqual(SparseWeightStorage.sparseLayers(of: loaded).count, 29, "a reloaded folder saves sparse again")
    let dense = try ModelLoading.load(from: temporary.appendingPathComponent("dense"))
    XCTAssertTrue(SparseWeightStorage.sparseLayers(of: dense).isEmpty)
    XCTAssertEqual(dense.stateDictionary()["\(key).weight"]!.scalars, original["\(key).weight"]!.scalars)
  }

  func testQuantizedPrunedLayersStaySparseWithValuesOfTheirTypeAndLoadBackExactly() throws {
    for scheme in QuantizationScheme.allCases {
      let model = prunedModel()
      let dense = try ModelLoading.copy(of: model)
      try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: scheme))
      try ModelQuantization.quantize(dense, settings: QuantizationSettings(scheme: scheme))
      XCTAssertEqual(SparseWeightStorage.sparseLayers(of: model).count, 29, scheme.rawValue)
      let (sparseFolder, denseFolder) = (temporary.appendingPathComponent("sparse-\(scheme)"), temporary.appendingPathComponent("dense-\(scheme)"))
      try ModelExport.save(model, to: sparseFolder)
      try ModelExport.save(dense, to: denseFolder)
      let header = try SafeTensorsFile.readHeader(from: sparseFolder.appendingPathComponent("model.safetensors"))
      let key = "encoder.block.0.layer.0.SelfAttention.q"
      XCTAssertEqual(header.entries.first { $0.name == "\(key).weight_values" }?.dtype, scheme == .int8 ? .int8 : .bfloat16)
      XCTAssertEqual(header.entries.first { $0.name == "\(key).weight_mask" }?.dtype, .uint8)
      XCTAssertNil(header.entries.first { $0.name == "\(key).weight" })
      // Each pruned layer stores 1 bit per weight and 1 (int8) or 2 (bf16) bytes per kept one instead of all of them.
      let byteSize = scheme == .int8 ? 1 : 2
      let pruned = LinearLayers.all(in: dense).filter { $0.key != "lm_head" }.compactMap { $0.layer as? any QuantizedLinearLayer }
      XCTAssertEqual(pruned.count, 29)
      let saved = pruned.map { layer -> Int in
        let weight = layer.storedWeights()[0].tensor
        return byteSize * weight.count - ((weight.count + 7) / 8 + byteSize * weight.scalars.filter { $0 != 0 }.count)
      }.reduce(0, +)
      XCTAssertGreaterThan(saved, 0)
      XCTAssertEqual(ModelQuantization.storedBytes(of: dense) - ModelQuantization.storedBytes(of: model), saved, scheme.rawValue)
      // The file also holds two tensor names per layer in its header; at this tiny size that takes part of the saving back.
      XCTAssertLessThan(try CheckpointFiles.byteCount(in: sparseFolder), try CheckpointFiles.byteCount(in: denseFolder), scheme.rawValue)

      let loaded = try ModelLoading.load(from: sparseFolder)
      XCTAssertEqual(ModelQuantization.scheme(of: loaded), scheme)
      XCTAssertEqual(SparseWeightStorage.sparseLayers(of: loaded).count, 29, "a reloaded folder saves sparse again")
      XCTAssertEqual(ModelQuantization.storedBytes(of: loaded), ModelQuantization.storedBytes(of: model))
      let batch = TinyModels.copyBatch()
      XCTAssertEqual(withoutGradient { loaded.forward(batch) }.scalars, withoutGradient { model.forward(batch) }.scalars, scheme.rawValue)
    }
  }

  func testScopeGlobalDrawsOneThresholdAndScopeLayerTheSameShareOfEach() {
    for scope in PruningScope.allCases {
      var generator = SeededRandom(seed: 11)
      let model = T5Model(TinyModels.t5(gated: true, tied: false, encoderLayers: 1, decoderLayers: 2), using: &generator)
      let layers = LowRankCompression.targetLayers(of: model, targets: [.attention, .ffn])
      let original = layers.map { $0.layer.weight.value.scalars }
      MagnitudePruning.prune(model, sparsity: 0.5, scope: scope, targets: [.attention, .ffn])
      XCTAssertEqual(MagnitudePruning.sparsity(of: layers), 0.5, accuracy: 1e-3, scope.rawValue)
      // What was removed and kept, by original magnitude, over all layers (global) or per layer.
      let groups = scope == .global ? [Array(zip(layers, original))] : zip(layers, original).map { [$0] }
      for group in groups {
        let pairs = group.flatMap { layer, weights in zip(layer.layer.weight.value.scalars, weights) }
        let removed = pairs.filter { $0.0 == 0 }.map { abs($0.1) }, kept = pairs.filter { $0.0 != 0 }.map { abs($0.1) }
        XCTAssertLessThanOrEqual(removed.max()!, kept.min()!, "\(scope.rawValue): a threshold separates removed from kept")
      }
      let shares = layers.map { MagnitudePruning.sparsity(of: [$0]) }
      if scope == .layer { XCTAssertEqual(Set(shares), [0.5], "every layer loses half") }
      else { XCTAssertGreaterThan(shares.max()! - shares.min()!, 0.05, "layers of small weights lose more") }
    }
  }

  func testPruningAPrunedModelFurtherKeepsItsZeros() {
    let model = prunedModel(sparsity: 0.3)
    let layers = LowRankCompression.targetLayers(of: model, targets: [.attention, .ffn])
    let zeros = layers.map { $0.layer.weight.value.scalars.map { $0 == 0 } }
    MagnitudePruning.prune(model, sparsity: 0.6, scope: .global, targets: [.attention, .ffn])
    XCTAssertEqual(MagnitudePruning.sparsity(of: layers), 0.6, accuracy: 1e-3)
    for (layer, before) in zip(layers, zeros) {
      for (value, wasZero) in zip(layer.layer.weight.value.scalars, before) where wasZero { XCTAssertEqual(value, 0) }
    }
  }

  /// Saves the pruned model, lets `damage` rewrite its tensors or config, and returns the load error.
  private func loadError(
    damagingTensors damage: (inout [String: Tensor], inout [String: SafeTensorsDType]) -> Void = { _, _ in },
    config: (String) -> String = { $0 }, quantizedTo scheme: QuantizationScheme? = nil
  ) throws -> String {
    let model = prunedModel()
    if let scheme { try ModelQuantization.quantize(model, settings: QuantizationSettings(scheme: scheme)) }
    try ModelExport.save(model, to: temporary.appendingPathComponent("sparse"))
    let header = try SafeTensorsFile.readHeader(from: weightFile)
    var dtypes = Dictionary(uniqueKeysWithValues: header.entries.filter { $0.dtype != .float32 }.map { ($0.name, $0.dtype) })
    var tensors = try SafeTensorsFile.read(from: weightFile).tensors
    damage(&tensors, &dtypes)
    try SafeTensorsFile(tensors: tensors).write(to: weightFile, dtypes: dtypes)
    try Data(config(String(decoding: try FileAccess.read(configFile), as: UTF8.self)).utf8).write(to: configFile)
    do {
      _ = try ModelLoading.load(from: temporary.appendingPathComponent("sparse"))
      return "loaded"
    } catch { return "\(error)" }
  }

  func testDamagedMasksValuesAndSectionsAreRefusedNamingTheTensorOrField() throws {
    let key = "decoder.block.1.layer.2.DenseReluDense.wo"
    let mask = "\(key).weight_mask", values = "\(key).weight_values"
    func expect(_ message: String, _ fragment: String, line: UInt = #line) {
      XCTAssertTrue(message.contains(fragment), message, line: line)
    }
    expect(try loadError(damagingTensors: { t, _ in t[values] = t[values]!.slice(axis: 0, 0..<(t[values]!.count - 1)) }),
      "tensor '\(values)': the mask keeps")
    expect(try loadError(damagingTensors: { t, _ in t[mask] = t[mask]!.slice(axis: 0, 0..<10) }), "tensor '\(mask)': expected shape [64]")
    expect(try loadError(damagingTensors: { t, d in t[mask] = Tensor(t[mask]!.scalars.map { $0 + 0.5 }); d[mask] = nil }),
      "tensor '\(mask)': byte 0 holds")
    expect(try loadError(damagingTensors: { t, _ in t[mask] = nil }), "missing weight '\(mask)'")
    expect(try loadError(damagingTensors: { t, _ in t["\(key).weight"] = Tensor.zeros([16, 32]) }), "has a dense weight too")
    // A U8 tensor the section does not list is not a weight.
    expect(try loadError(damagingTensors: { t, d in d["shared.weight"] = .uint8; t["shared.weight"] = Tensor.zeros([24, 16]) }),
      "shared.weight")
    expect(try loadError(config: { $0.replacingOccurrences(of: "\"bitmask\"", with: "\"csr\"") }), "field 'pruning': 'format' must be")
    expect(try loadError(config: { $0.replacingOccurrences(of: "\"\(key)\"", with: "\"decoder.block.9.x\"") }),
      "field 'pruning': 'decoder.block.9.x' is not a dense linear layer")
    expect(try loadError(config: { $0.replacingOccurrences(of: "\"layers\":[", with: "\"layers\":[\"\(key)\",") }), "is listed twice")
    // Quantized kept values: out of the int8 range, or I8 where the layer is not an int8 one.
    expect(try loadError(damagingTensors: { t, _ in t[values] = Tensor(t[values]!.scalars.map { _ in -128 }) }, quantizedTo: .int8),
      "quantized weight '\(key).weight': element")
    expect(try loadError(damagingTensors: { t, d in d[values] = .int8; t[values] = Tensor(t[values]!.scalars.map { $0.rounded() }) }),
      "\(values)")
    XCTAssertEqual(try loadError(quantizedTo: .bf16), "loaded")
  }

  func testPaddingBitsOfTheLastMaskByteMustBeZero() throws {
    let (mask, values) = SparseWeightStorage.encode(Tensor([1, 0, 2, 3, 0], shape: [1, 5]))
    XCTAssertEqual(mask.scalars, [13])
    XCTAssertEqual(values.scalars, [1, 2, 3])
    let names = (mask: "m", values: "v")
    XCTAssertEqual(try SparseWeightStorage.decode(mask: mask, values: values, shape: [1, 5], names: names, source: "f").scalars, [1, 0, 2, 3, 0])
    XCTAssertThrowsError(try SparseWeightStorage.decode(mask: Tensor([13 + 64]), values: Tensor([1, 2, 3, 4]), shape: [1, 5], names: names, source: "f")) {
      XCTAssertTrue("\($0)".contains("tensor 'm': the padding bits after entry 5"), "\($0)")
    }
  }
}
