import Foundation
import JSONFormat
import NeuralLayers
import TensorCore

/// How a folder stores magnitude-pruned layers so that its file shrinks: the
/// `pruning` section of `config.json` lists them, and each keeps, in place of
/// `<layer>.weight` `[out, in]`,
/// - `<layer>.weight_mask`: U8 `[⌈out·in / 8⌉]`, bit `j` of byte `b` (least
///   significant first) set when entry `8b + j` of the row-major weight is
///   nonzero; the padding bits of the last byte are zero;
/// - `<layer>.weight_values`: `[number of set bits]`, those entries in order,
///   in the weight's own file type: F32, or I8 (with `<layer>.weight_scale`)
///   and BF16 when the layer was quantized after pruning.
///
/// A folder decodes once at load into ordinary dense ``Linear`` layers with
/// zeros (flagged ``Linear/storesSparse`` so a later save keeps the form), or
/// quantized ones (``QuantizedLinearLayer/storesSparse``); 1 bit per weight
/// plus 32 (8, 16) per kept one, smaller than dense above 1/32 (1/8, 1/16) sparsity.
public enum SparseWeightStorage {
  public static let sectionKey = "pruning"
  static let format = "bitmask"

  /// The layers (dense or quantized) a save stores sparse, in key order.
  public static func sparseLayers(of model: any Seq2SeqModel) -> [(key: String, layer: any LinearLayer)] {
    LinearLayers.all(in: model).filter { entry in
      (entry.layer as? Linear)?.storesSparse ?? (entry.layer as? any QuantizedLinearLayer)?.storesSparse ?? false
    }
  }

  /// The weight a layer's folder stores (`<layer>.weight`: fp32, or its quantized values) and its file type.
  private static func storedWeight(of layer: any LinearLayer) -> (tensor: Tensor, dtype: SafeTensorsDType) {
    if let quantized = layer as? any QuantizedLinearLayer, let weight = quantized.storedWeights().first(where: { $0.key == "weight" }) {
      return (weight.tensor, weight.dtype)
    }
    return (layer.fused().weight.value, .float32)
  }

  /// How many fewer bytes the sparse layers take as mask and kept values than as whole weights of their type.
  static func bytesSaved(in model: any Seq2SeqModel) -> Int {
    sparseLayers(of: model).reduce(0) { total, entry in
      let (weight, dtype) = storedWeight(of: entry.layer)
      let kept = weight.scalars.filter(isKept).count
      return total + dtype.byteSize * weight.count - ((weight.count + 7) / 8 + dtype.byteSize * kept)
    }
  }

  /// Whether an entry is stored: its bits are not +0, so −0 survives the round trip.
  static func isKept(_ value: Float) -> Bool { value.bitPattern != 0 }

  /// The `pruning` member for `config.json` (nil without sparse layers).
  static func section(of model: any Seq2SeqModel) -> JSONValue? {
    let layers = sparseLayers(of: model)
    guard !layers.isEmpty else { return nil }
    return .object([("format", .string(format)), ("layers", .array(layers.map { .string($0.key) }))])
  }

  /// `tensors` (of the file types `dtypes`, F32 where absent) with each sparse
  /// layer's stored weight as its mask and kept values, and the file types then.
  static func checkpointTensors(of model: any Seq2SeqModel, from tensors: [String: Tensor], dtypes: [String: SafeTensorsDType]) -> (
    tensors: [String: Tensor], dtypes: [String: SafeTensorsDType]
  ) {
    var (result, types) = (tensors, dtypes)
    for (key, _) in sparseLayers(of: model) {
      guard let weight = result.removeValue(forKey: "\(key).weight") else { continue }
      let (mask, values) = encode(weight)
      result["\(key).weight_mask"] = mask
      result["\(key).weight_values"] = values
      types["\(key).weight_mask"] = .uint8
      if let dtype = types.removeValue(forKey: "\(key).weight") { types["\(key).weight_values"] = dtype }
    }
    return (result, types)
  }

  /// The packed mask (bytes as floats) and the kept values of `weight`. An
  /// entry is kept when its bits are not +0, so −0 survives the round trip.
  static func encode(_ weight: Tensor) -> (mask: Tensor, values: Tensor) {
    let scalars = weight.scalars
    var bytes = [Float](repeating: 0, count: (scalars.count + 7) / 8)
    var kept: [Float] = []
    for (index, value) in scalars.enumerated() where isKept(value) {
      bytes[index / 8] += Float(1 << (index % 8))
      kept.append(value)
    }
    return (Tensor(bytes), Tensor(kept))
  }

  /// The tensors a folder with `section` stores as U8 (its masks) and as I8
  /// (the kept values of the layers whose `<layer>.weight` is among `int8Weights`).
  static func integerNames(_ section: JSONValue, model: any Seq2SeqModel, configFile: String, int8Weights: Set<String>) throws
    -> (uint8: Set<String>, int8: Set<String>)
  {
    let keys = try listedLayers(section, model: model, configFile: configFile).map(\.key)
    return (Set(keys.map { "\($0).weight_mask" }), Set(keys.filter { int8Weights.contains("\($0).weight") }.map { "\($0).weight_values" }))
  }

  /// Decodes each listed layer's mask and values from `weights` into
  /// `<layer>.weight` for the strict loader, flags the layer, and returns the
  /// weights. A mask or value count that does not fit the layer is refused naming the tensor.
  static func install(
    _ section: JSONValue, weights: [String: Tensor], into model: any Seq2SeqModel, source: String, configFile: String
  ) throws -> [String: Tensor] {
    var remaining = weights
    for (key, linear) in try listedLayers(section, model: model, configFile: configFile) {
      if remaining["\(key).weight"] != nil {
        throw SafeTensorsError.invalidEntry(source: source, tensor: "\(key).weight", reason: "the layer is listed as stored sparse but has a dense weight too")
      }
      let (maskName, valuesName) = ("\(key).weight_mask", "\(key).weight_values")
      guard let mask = remaining.removeValue(forKey: maskName) else { throw ParameterLoadingError.missingKey(maskName, source: source) }
      guard let values = remaining.removeValue(forKey: valuesName) else { throw ParameterLoadingError.missingKey(valuesName, source: source) }
      remaining["\(key).weight"] = try decode(
        mask: mask, values: values, shape: [linear.outputSize, linear.inputSize], names: (maskName, valuesName), source: source)
      linear.storesSparse = true
    }
    return remaining
  }

  /// The dense weight `shape` that `mask` and `values` hold.
  static func decode(mask: Tensor, values: Tensor, shape: [Int], names: (mask: String, values: String), source: String) throws -> Tensor {
    func invalid(_ tensor: String, _ reason: String) -> SafeTensorsError { .invalidEntry(source: source, tensor: tensor, reason: reason) }
    let count = shape.reduce(1, *)
    guard mask.shape == [(count + 7) / 8] else {
      throw invalid(names.mask, "expected shape [\((count + 7) / 8)] (the \(shape[0])×\(shape[1]) weight's bits, packed), found \(mask.shape)")
    }
    let bytes = mask.scalars
    if let index = bytes.firstIndex(where: { $0 != $0.rounded() || $0 < 0 || $0 > 255 }) {
      throw invalid(names.mask, "byte \(index) holds \(bytes[index]), not a value 0…255")
    }
    let bits = bytes.map { UInt8($0) }
    if count % 8 != 0, bits[bits.count - 1] >> (count % 8) != 0 {
      throw invalid(names.mask, "the padding bits after entry \(count) of the last byte must be zero")
    }
    let keptCount = bits.reduce(0) { $0 + $1.nonzeroBitCount }
    guard values.shape == [keptCount] else {
      throw invalid(names.values, "the mask keeps \(keptCount) entries, found shape \(values.shape)")
    }
    var dense = Tensor.zeros(shape)
    let kept = values.scalars
    dense.withMutableValues { weight in
      var next = 0
      for index in 0..<count where bits[index / 8] >> (index % 8) & 1 == 1 {
        weight[index] = kept[next]
        next += 1
      }
    }
    return dense
  }

  /// The layers the section lists, each a dense layer of `model` listed once.
  private static func listedLayers(_ section: JSONValue, model: any Seq2SeqModel, configFile: String) throws -> [(key: String, layer: Linear)] {
    func invalid(_ reason: String) -> ModelFolderError { .invalidConfiguration(file: configFile, reason: "field '\(sectionKey)': \(reason)") }
    guard case .string(format)? = section["format"] else { throw invalid("'format' must be \"\(format)\"") }
    guard case .array(let entries)? = section["layers"] else { throw invalid("'layers' must be a list of layer keys") }
    let linears = Dictionary(
      LinearLayers.all(in: model).compactMap { entry in (entry.layer as? Linear).map { (entry.key, $0) } },
      uniquingKeysWith: { a, _ in a })
    var seen = Set<String>()
    return try entries.map { entry in
      guard case .string(let key) = entry else { throw invalid("'layers' must hold layer keys (strings)") }
      guard seen.insert(key).inserted else { throw invalid("'\(key)' is listed twice") }
      guard let linear = linears[key] else { throw invalid("'\(key)' is not a dense linear layer of this model") }
      return (key, linear)
    }
  }
}
