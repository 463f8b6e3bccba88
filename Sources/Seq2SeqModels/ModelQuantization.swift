import Foundation
import JSONFormat
import NeuralLayers
import TensorCore

/// What quantization needs of a model's output head and shared embedding.
protocol SharedEmbeddingHead: AnyObject {
  var head: (any LinearLayer)? { get set }
  var shared: Embedding { get }
  /// The shared embedding's key (its weight is `<key>.weight`).
  static var sharedKey: String { get }
  static var headKey: String { get }
  /// Whether the configuration ties the head to the shared embedding.
  var headIsTied: Bool { get }
  /// The checkpoint keys that hold copies of the shared table (the stacks', a tied head's).
  var tiedCopyKeys: [String] { get }
}

extension T5Model: SharedEmbeddingHead {
  var headIsTied: Bool { configuration.tieWordEmbeddings }
}

extension BartModel: SharedEmbeddingHead {
  var headIsTied: Bool { configuration.tieWordEmbeddings }
}

/// How `tessera quantize` (and `compare --quantize`) quantizes a model.
public struct QuantizationSettings: Sendable, Hashable {
  public var scheme: QuantizationScheme
  /// Layers left in fp32: a key path, a prefix of one (`decoder`), or segments
  /// of one (`DenseReluDense.wo`, `SelfAttention`, `lm_head`); each entry must match a layer.
  public var keepFP32: [String]

  public init(scheme: QuantizationScheme, keepFP32: [String] = []) {
    self.scheme = scheme
    self.keepFP32 = keepFP32
  }

  func keeps(_ key: String) -> Bool { keepFP32.contains { ModelQuantization.matches(key, $0) } }
}

/// A model cannot be quantized, or a quantized folder cannot be read.
public enum QuantizationError: Error, CustomStringConvertible, Equatable {
  case unmatchedKeep(String)
  case invalidSection(file: String, reason: String)

  public var description: String {
    switch self {
    case .unmatchedKeep(let entry): "--keep-fp32: '\(entry)' names no linear layer of the model"
    case .invalidSection(let file, let reason): "\(file): field 'quantization': \(reason)"
    }
  }
}

/// Quantizing a model in memory, and the `quantization` section of a quantized folder's `config.json`.
///
/// Every linear layer of both stacks (and an untied head) becomes an
/// ``Int8Linear`` or ``BF16Linear``. A head tied to the shared embedding gets
/// a quantized copy of it, and the embedding itself is replaced by the
/// dequantized values, so lookups and logits use the same stored numbers and a
/// file keeps only the quantized table (`shared.weight` as I8 with
/// `shared.weight_scale`, or BF16).
public enum ModelQuantization {
  /// The `config.json` member that marks a quantized folder.
  public static let sectionKey = "quantization"
  /// The key under which a tied head is listed in the section.
  static let tiedHeadEntry = "lm_head"

  /// Replaces `model`'s linear layers by quantized ones; returns their keys.
  @discardableResult
  public static func quantize(_ model: any Seq2SeqModel, settings: QuantizationSettings) throws -> [String] {
    let layers = LinearLayers.leaves(in: model)
    for entry in settings.keepFP32 where !layers.contains(where: { matches($0.key, entry) }) && !matchesTiedHead(model, entry) {
      throw QuantizationError.unmatchedKeep(entry)
    }
    var quantized: [String] = []
    for (key, layer) in layers where !settings.keeps(key) {
      guard let linear = layer as? Linear else { continue }
      try LinearLayers.replace(at: key, in: model, with: make(settings.scheme, from: linear))
      quantized.append(key)
    }
    // A compressed shared table is stored as its factors, not as a table: the
    // tied head keeps reading it in fp32 rather than storing a quantized copy.
    if let holder = model as? any SharedEmbeddingHead, holder.headIsTied, holder.head == nil, holder.shared.storedFactors == nil,
      !settings.keeps(tiedHeadEntry)
    {
      let head = make(settings.scheme, from: Linear(weight: Parameter(holder.shared.weight.value.detached())))
      head.copiesTiedWeight = true
      holder.shared.weight.value = head.fused().weight.value
      holder.head = head
      quantized.append(tiedHeadEntry)
    }
    return quantized
  }

  /// Whether `key` is `entry`, lies under it, or holds its segments
  /// (`DenseReluDense.wo` matches the layer and, when factorised, its `down` and `up` parts).
  static func matches(_ key: String, _ entry: String) -> Bool {
    key == entry || key.hasPrefix(entry + ".") || key.hasSuffix("." + entry) || key.contains("." + entry + ".")
  }

  private static func matchesTiedHead(_ model: any Seq2SeqModel, _ entry: String) -> Bool {
    guard let holder = model as? any SharedEmbeddingHead, holder.headIsTied else { return false }
    return entry == tiedHeadEntry
  }

  /// `linear` quantized, stored sparse when it is (zeros quantize to zeros).
  static func make(_ scheme: QuantizationScheme, from linear: Linear) -> any QuantizedLinearLayer {
    let layer: any QuantizedLinearLayer =
      switch scheme {
      case .int8: Int8Linear(quantizing: linear)
      case .bf16: BF16Linear(quantizing: linear)
      }
    layer.storesSparse = linear.storesSparse
    return layer
  }

  /// The scheme of a quantized model (nil when no layer is quantized).
  public static func scheme(of model: any Seq2SeqModel) -> QuantizationScheme? {
    LinearLayers.leaves(in: model).lazy.compactMap { ($0.layer as? any QuantizedLinearLayer)?.scheme }.first
  }

  /// Whether the model's head is a quantized copy of its (tied) shared embedding.
  static func hasQuantizedTiedHead(_ model: any Seq2SeqModel) -> Bool {
    guard let holder = model as? any SharedEmbeddingHead else { return false }
    return holder.headIsTied && holder.head is any QuantizedLinearLayer
  }

  /// Bytes of the weights as a quantized folder stores them (tied weights once, a compressed embedding as its factors).
  public static func storedBytes(of model: any Seq2SeqModel) -> Int {
    let tiedHead = hasQuantizedTiedHead(model)
    let sharedKey = (model as? any SharedEmbeddingHead).map { type(of: $0).sharedKey + ".weight" }
    let factors = EmbeddingCompression.factors(of: model)
    let dense = model.uniqueNamedParameters().filter { !((tiedHead || factors != nil) && $0.key == sharedKey) }
      .reduce(4 * (factors?.storedCount ?? 0)) { $0 + 4 * $1.parameter.value.count }
    let quantized = LinearLayers.leaves(in: model).compactMap { $0.layer as? any QuantizedLinearLayer }
      .flatMap { $0.storedWeights() }.reduce(0) { $0 + $1.tensor.count * $1.dtype.byteSize }
    return dense + quantized - SparseWeightStorage.bytesSaved(in: model)
  }

  /// The tensors of a quantized checkpoint and the file type of each that is not F32.
  public static func checkpointTensors(of model: any Seq2SeqModel) -> (tensors: [String: Tensor], dtypes: [String: SafeTensorsDType]) {
    var tensors = model.checkpointTensors()
    var dtypes: [String: SafeTensorsDType] = [:]
    for (key, layer) in LinearLayers.leaves(in: model) {
      guard let quantized = layer as? any QuantizedLinearLayer else { continue }
      var stored = quantized.storedWeights()
      if key == tiedHeadEntry, hasQuantizedTiedHead(model), let holder = model as? any SharedEmbeddingHead {
        // The tied table is stored once, quantized, under the shared key; every dense copy goes.
        let shared = tensors[type(of: holder).sharedKey + ".weight"]!
        for (name, tensor) in tensors where tensor.shape == shared.shape && tensor.scalars == shared.scalars { tensors[name] = nil }
        stored = stored.map { (type(of: holder).sharedKey + "." + $0.key, $0.tensor, $0.dtype) }
      } else {
        tensors["\(key).weight"] = nil
        stored = stored.map { ("\(key).\($0.key)", $0.tensor, $0.dtype) }
      }
      for (name, tensor, dtype) in stored {
        tensors[name] = tensor
        if dtype != .float32 { dtypes[name] = dtype }
      }
    }
    return (tensors, dtypes)
  }

  /// The `quantization` member for `config.json`.
  public static func section(of model: any Seq2SeqModel) -> JSONValue? {
    guard let scheme = scheme(of: model) else { return nil }
    let keys = LinearLayers.leaves(in: model).filter { $0.layer is any QuantizedLinearLayer }.map(\.key)
    let activations = scheme == .int8 ? "int8, symmetric per row, computed on each call" : "fp32"
    return .object([
      ("scheme", .string(scheme.rawValue)),
      ("weights", .string(scheme == .int8 ? "int8, symmetric per output row (weight_scale)" : "bfloat16")),
      ("activations", .string(activations)),
      ("layers", .array(keys.map { .string($0) })),
    ])
  }

  /// The layers a folder's section lists: each key, the key its stored
  /// weights go under (a tied head's are the shared embedding's) and the
  /// dense layer it replaces (nil for a tied head, which replaces none).
  static func listedLayers(_ section: JSONValue, model: any Seq2SeqModel, configFile: String) throws
    -> (scheme: QuantizationScheme, layers: [(key: String, storedKey: String, dense: Linear?)])
  {
    func invalid(_ reason: String) -> QuantizationError { .invalidSection(file: configFile, reason: reason) }
    guard case .string(let name)? = section["scheme"], let scheme = QuantizationScheme(rawValue: name) else {
      throw invalid("'scheme' must be one of \(QuantizationScheme.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard case .array(let entries)? = section["layers"] else { throw invalid("'layers' must be a list of layer keys") }
    let linears = Dictionary(
      LinearLayers.leaves(in: model).compactMap { entry in (entry.layer as? Linear).map { (entry.key, $0) } },
      uniquingKeysWith: { a, _ in a })
    let holder = model as? any SharedEmbeddingHead
    var seen = Set<String>()
    return (scheme, try entries.map { entry in
      guard case .string(let key) = entry else { throw invalid("'layers' must hold layer keys (strings)") }
      guard seen.insert(key).inserted else { throw invalid("'\(key)' is listed twice") }
      if key == tiedHeadEntry, let holder, holder.headIsTied, holder.head == nil {
        return (key, type(of: holder).sharedKey, nil)
      }
      guard let dense = linears[key] else { throw invalid("'\(key)' is not a linear layer of this model") }
      return (key, key, dense)
    })
  }

  /// The tensors an int8 folder stores as I8.
  static func int8WeightNames(_ section: JSONValue, model: any Seq2SeqModel, configFile: String) throws -> Set<String> {
    let (scheme, layers) = try listedLayers(section, model: model, configFile: configFile)
    return scheme == .int8 ? Set(layers.map { $0.storedKey + ".weight" }) : []
  }

  /// Builds the quantized layers a folder's `quantization` section lists from
  /// `weights` (the stored I8 values, read as floats, with their scales, or
  /// BF16 values), puts them in `model` and returns the remaining weights for
  /// the strict loader (a quantized tied table as its dequantized values).
  static func install(
    _ section: JSONValue, weights: [String: Tensor], into model: any Seq2SeqModel, source: String, configFile: String
  ) throws -> [String: Tensor] {
    let (scheme, layers) = try listedLayers(section, model: model, configFile: configFile)
    var remaining = weights
    func take(_ key: String) throws -> Tensor {
      guard let tensor = remaining.removeValue(forKey: key) else { throw ParameterLoadingError.missingKey(key, source: source) }
      return tensor
    }
    for (key, prefix, dense) in layers {
      let isTiedHead = dense == nil
      // The bias stays a parameter: the strict loader sets (and checks) it with the rest.
      let bias = dense?.bias.map { Parameter($0.value) }
      let values = try take("\(prefix).weight")
      guard values.rank == 2 else {
        throw QuantizedWeightError.invalid(key: prefix + ".weight", reason: "expected a matrix, found shape \(values.shape)")
      }
      let layer: any QuantizedLinearLayer =
        switch scheme {
        case .int8: try Int8Linear(values: values, scales: try take("\(prefix).weight_scale"), bias: bias, key: prefix)
        case .bf16: BF16Linear(values: values, bias: bias)
        }
      layer.copiesTiedWeight = isTiedHead
      layer.storesSparse = dense?.storesSparse ?? false
      if isTiedHead, let holder = model as? any SharedEmbeddingHead {
        // The strict loader checks the table's shape against the embedding's.
        remaining[prefix + ".weight"] = layer.fused().weight.value
        if values.shape == holder.shared.weight.shape { holder.head = layer }
      } else {
        try LinearLayers.replace(at: key, in: model, with: layer)
      }
    }
    return remaining
  }
}
