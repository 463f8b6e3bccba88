import TensorCore

/// A layer that maps `[…, in]` to `[…, out]` and can stand wherever a dense
/// ``Linear`` stands: a factorised, masked or quantized layer conforms, and
/// ``LinearLayers/replace(at:in:with:)`` puts it in place of a dense one.
public protocol LinearLayer: ParameterContainer {
  var inputSize: Int { get }
  var outputSize: Int { get }
  /// `[…, in]` → `[…, out]`.
  func callAsFunction(_ x: Tensor) -> Tensor
  /// The dense layer computing the same function, for export (a ``Linear`` returns itself).
  func fused() -> Linear
}

extension Linear: LinearLayer {
  public func fused() -> Linear { self }
}

/// A layer made of named sublayers. Its parameters are theirs, keyed by each
/// sublayer's key (an empty key adds no prefix), so every key path is
/// declared once, in ``sublayers``.
public protocol LayerTree: ParameterContainer {
  /// The direct sublayers with their key relative to this layer.
  var sublayers: [(key: String, layer: any ParameterContainer)] { get }
  /// Puts `layer` in the place of the direct linear sublayer `key`; false
  /// when `key` names no linear sublayer this layer can replace.
  func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool
}

extension LayerTree {
  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    sublayers.flatMap { joinKeys($0.key, $0.layer.namedParameters()) }
  }
}

/// A linear layer could not be replaced.
public enum LayerReplacementError: Error, CustomStringConvertible, Equatable {
  /// No replaceable linear layer has this key path.
  case noLinearLayer(keyPath: String)
  /// The replacement maps a different number of features.
  case sizeMismatch(keyPath: String, expected: [Int], found: [Int])

  public var description: String {
    switch self {
    case .noLinearLayer(let keyPath): "no replaceable linear layer at '\(keyPath)'"
    case .sizeMismatch(let keyPath, let expected, let found):
      "the layer at '\(keyPath)' maps \(expected[0]) → \(expected[1]) features; the replacement maps \(found[0]) → \(found[1])"
    }
  }
}

/// Finding, replacing and fusing the linear layers of a layer tree by key path.
public enum LinearLayers {
  /// Every linear layer under `root` with its dotted key path (the prefix of
  /// its parameters' keys), in key order.
  public static func all(in root: any ParameterContainer) -> [(key: String, layer: any LinearLayer)] {
    if let linear = root as? any LinearLayer { return [("", linear)] }
    guard let tree = root as? any LayerTree else { return [] }
    return tree.sublayers.flatMap { sublayer in
      all(in: sublayer.layer).map { (join(sublayer.key, $0.key), $0.layer) }
    }
  }

  /// Like ``all(in:)``, but a linear layer made of linear layers (the two
  /// factors of a ``LowRankLinear``) is listed as its parts: the layers that
  /// hold weights, which quantization replaces.
  public static func leaves(in root: any ParameterContainer) -> [(key: String, layer: any LinearLayer)] {
    all(in: root).flatMap { entry -> [(key: String, layer: any LinearLayer)] in
      guard let composite = entry.layer as? any LayerTree else { return [entry] }
      return composite.sublayers.flatMap { part in leaves(in: part.layer).map { (join(join(entry.key, part.key), $0.key), $0.layer) } }
    }
  }

  /// Puts `layer` in the place of the linear layer at `keyPath` under `root`
  /// (for example `encoder.block.0.layer.0.SelfAttention.q`).
  ///
  /// - Throws: ``LayerReplacementError`` when no linear layer has that key
  ///   path or the replacement's sizes differ.
  public static func replace(at keyPath: String, in root: any ParameterContainer, with layer: any LinearLayer) throws {
    guard try replace(keyPath[...], in: root, with: layer, fullPath: keyPath) else {
      throw LayerReplacementError.noLinearLayer(keyPath: keyPath)
    }
  }

  private static func replace(
    _ rest: Substring, in node: any ParameterContainer, with layer: any LinearLayer, fullPath: String
  ) throws -> Bool {
    guard let tree = node as? any LayerTree else { return false }
    for (key, sublayer) in tree.sublayers {
      if key == rest, let current = sublayer as? any LinearLayer {
        guard current.inputSize == layer.inputSize, current.outputSize == layer.outputSize else {
          throw LayerReplacementError.sizeMismatch(
            keyPath: fullPath, expected: [current.inputSize, current.outputSize], found: [layer.inputSize, layer.outputSize])
        }
        return tree.replaceSublayer(key, with: layer)
      }
      let remainder: Substring? = key.isEmpty ? rest : (rest.hasPrefix(key + ".") ? rest.dropFirst(key.count + 1) : nil)
      if let remainder, try replace(remainder, in: sublayer, with: layer, fullPath: fullPath) { return true }
    }
    return false
  }

  /// The state dictionary of `root` with every non-dense linear layer
  /// replaced by its fused dense weights: what an exported checkpoint holds.
  public static func denseStateDictionary(of root: any ParameterContainer) -> [String: Tensor] {
    var tensors = root.stateDictionary()
    for (key, layer) in all(in: root) where !(layer is Linear) {
      let prefix = key.isEmpty ? "" : key + "."
      for name in tensors.keys where name.hasPrefix(prefix) { tensors[name] = nil }
      for (name, parameter) in joinKeys(key, layer.fused().namedParameters()) { tensors[name] = parameter.value.detached() }
    }
    return tensors
  }

  private static func join(_ prefix: String, _ key: String) -> String {
    prefix.isEmpty ? key : (key.isEmpty ? prefix : prefix + "." + key)
  }
}
