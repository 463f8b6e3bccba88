import TensorCore

/// A trainable tensor with an identity. Layers that share one `Parameter`
/// share the weight (tied embeddings); the optimizer updates it in place.
public final class Parameter: @unchecked Sendable {
  /// The current value, a leaf of the autodiff tape.
  public var value: Tensor {
    didSet { if value.requiresGrad != isTrainable { value.requiresGrad = isTrainable } }
  }
  /// Whether the optimizer should update it. A frozen parameter (a teacher's,
  /// under distillation) records no gradient, so backward skips its products.
  public var isTrainable = true {
    didSet { value.requiresGrad = isTrainable }
  }

  public init(_ value: Tensor) {
    var leaf = value
    leaf.requiresGrad = true
    self.value = leaf
  }

  /// The gradient accumulated by the last backward passes.
  public var grad: Tensor? { value.grad }
  public var shape: [Int] { value.shape }
  public func zeroGrad() { value.zeroGrad() }
}

/// Anything that owns parameters, addressed by dotted key paths such as
/// `encoder.block.0.layer.0.SelfAttention.q.weight`.
public protocol ParameterContainer: AnyObject {
  /// Every parameter under this container, keyed relative to it. A tied
  /// parameter may appear under several keys.
  func namedParameters() -> [(key: String, parameter: Parameter)]
}

extension ParameterContainer {
  /// Distinct parameters (tied ones once), in key order of first appearance.
  public func parameters() -> [Parameter] {
    var seen = Set<ObjectIdentifier>()
    return namedParameters().map(\.parameter).filter { seen.insert(ObjectIdentifier($0)).inserted }
  }

  /// Distinct parameters with their first key.
  public func uniqueNamedParameters() -> [(key: String, parameter: Parameter)] {
    var seen = Set<ObjectIdentifier>()
    return namedParameters().filter { seen.insert(ObjectIdentifier($0.parameter)).inserted }
  }

  /// The number of distinct scalar parameters, the weights of quantized
  /// layers included (they are the same weights, stored in fewer bits).
  public var parameterCount: Int {
    let quantized = LinearLayers.leaves(in: self).compactMap { $0.layer as? any QuantizedLinearLayer }.filter { !$0.copiesTiedWeight }
    return parameters().reduce(0) { $0 + $1.value.count } + quantized.reduce(0) { $0 + $1.inputSize * $1.outputSize }
  }

  /// Current values by key (every key, tied ones repeated).
  public func stateDictionary() -> [String: Tensor] {
    Dictionary(namedParameters().map { ($0.key, $0.parameter.value.detached()) }, uniquingKeysWith: { a, _ in a })
  }

  /// Sets every parameter from `tensors`. Strict: a missing key, an unexpected
  /// key or a wrong shape throws an error naming the key.
  public func loadStateDictionary(_ tensors: [String: Tensor], source: String = "weights") throws {
    let named = namedParameters()
    let expected = Set(named.map(\.key))
    if let unexpected = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
      throw ParameterLoadingError.unexpectedKey(unexpected, source: source)
    }
    for (key, parameter) in named {
      guard let tensor = tensors[key] else { throw ParameterLoadingError.missingKey(key, source: source) }
      guard tensor.shape == parameter.shape else {
        throw ParameterLoadingError.shapeMismatch(key, expected: parameter.shape, found: tensor.shape, source: source)
      }
      parameter.value = tensor.detached()
    }
  }

  /// Clears every gradient.
  public func zeroGrad() { parameters().forEach { $0.zeroGrad() } }

  /// Makes every parameter untrainable: no gradients, no optimizer updates.
  public func freeze() { parameters().forEach { $0.isTrainable = false } }
}

/// Builds the key list of a container from its own parameters and children.
public func joinKeys(_ prefix: String, _ children: [(key: String, parameter: Parameter)]) -> [(key: String, parameter: Parameter)] {
  children.map { (prefix.isEmpty ? $0.key : prefix + "." + $0.key, $0.parameter) }
}

/// A weight file does not fit the model.
public enum ParameterLoadingError: Error, CustomStringConvertible, Equatable {
  case missingKey(String, source: String)
  case unexpectedKey(String, source: String)
  case shapeMismatch(String, expected: [Int], found: [Int], source: String)

  public var description: String {
    switch self {
    case .missingKey(let key, let source): "\(source): missing weight '\(key)'"
    case .unexpectedKey(let key, let source): "\(source): unexpected weight '\(key)'"
    case .shapeMismatch(let key, let expected, let found, let source):
      "\(source): weight '\(key)' has shape \(found), the model expects \(expected)"
    }
  }
}
