import QuantizedKernels
import TensorCore

/// `y = x · Wᵀ + b` with `W` shaped `[out, in]`, as checkpoints store it.
public final class Linear: ParameterContainer {
  public let weight: Parameter
  public let bias: Parameter?
  /// Whether a saved folder stores the weight sparse (a packed mask of its
  /// nonzero entries and their values) rather than dense: set by magnitude
  /// pruning and when a folder stored that way loads. Computation is dense either way.
  public var storesSparse = false

  /// Uniform(−1/√in, 1/√in) initialisation, zero bias.
  public init(inputSize: Int, outputSize: Int, hasBias: Bool = true, using generator: inout SeededRandom) {
    let bound = 1 / Float(inputSize).squareRoot()
    weight = Parameter(Initializers.uniform([outputSize, inputSize], bound: bound, using: &generator))
    bias = hasBias ? Parameter(Tensor.zeros([outputSize])) : nil
  }

  public init(weight: Parameter, bias: Parameter? = nil) {
    self.weight = weight
    self.bias = bias
  }

  public var inputSize: Int { weight.shape[1] }
  public var outputSize: Int { weight.shape[0] }

  /// `[…, in]` → `[…, out]`.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    if !GradientMode.isEnabled, x.count <= Linear.vectorRows * inputSize { return productOfFewRows(x) }
    let y = x.matmul(weight.value, transposeB: true)
    return bias.map { y + $0.value } ?? y
  }

  /// Up to this many input rows (a decoding step's, beams or a batch of 32
  /// included) go through the few-rows kernel: each weight is read once from
  /// memory for all rows, bias added in the same pass, nothing packed; more
  /// rows go to BLAS. At 32 rows BLAS packs the whole weight matrix for one
  /// product; batch-32 greedy decoding at d256 / vocabulary 32128 ran 3–44%
  /// faster this way in three paired runs on Zen 4 (t5-small: −11 to +19%).
  static let vectorRows = 32

  private func productOfFewRows(_ x: Tensor) -> Tensor {
    weight.value.withValues { w in
      productOverOutputs(x, inputSize: inputSize, outputSize: outputSize, bias: bias) { input, rows, out, bias, j0, j1 in
        tq_f32_gemm(input, rows, inputSize, inputSize, w.baseAddress, bias, j0, j1, out, outputSize)
      }
    }
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }
}

/// A lookup table of `[V, C]` vectors.
public final class Embedding: ParameterContainer {
  public let weight: Parameter
  /// A row (the padding token's) that lookups never train, as BART's embeddings do.
  public let paddingIndex: Int?
  /// The compressed form a model folder stores the table in (set by
  /// embedding compression or when such a folder loads); the table itself
  /// stays the decoded values. See ``storedFactors``.
  public var factors: EmbeddingFactors?

  /// Normal(0, `std`) initialisation.
  public convenience init(count: Int, width: Int, std: Float = 1, paddingIndex: Int? = nil, using generator: inout SeededRandom) {
    self.init(weight: Parameter(Initializers.normal([count, width], std: std, using: &generator)), paddingIndex: paddingIndex)
  }

  public init(weight: Parameter, paddingIndex: Int? = nil) {
    if let paddingIndex, paddingIndex < 0 || paddingIndex >= weight.shape[0] {
      fatalError("padding index \(paddingIndex) is outside the \(weight.shape[0])-row embedding table")
    }
    self.weight = weight
    self.paddingIndex = paddingIndex
  }

  /// The number of rows (token ids `0..<count` can be looked up).
  public var count: Int { weight.shape[0] }

  /// Token ids shaped `shape` → `shape + [C]`.
  ///
  /// Callers check ids before they get here (the models throw a clear
  /// error); this check is the last line of defence, kept in unchecked
  /// builds, because an id outside the table would read outside its buffer.
  public func callAsFunction(_ ids: [Int], shape: [Int]) -> Tensor {
    let rows = count
    for id in ids where id < 0 || id >= rows {
      fatalError("token id \(id) is outside the embedding table 0..<\(rows)")
    }
    if shape.reduce(1, *) != ids.count {
      fatalError("\(ids.count) token ids cannot have the shape \(shape)")
    }
    return weight.value.gatherRows(ids, indexShape: shape, frozenRow: paddingIndex)
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] { [("weight", weight)] }
}

/// Layer normalisation with learned scale and shift.
public final class LayerNorm: ParameterContainer {
  public let weight: Parameter
  public let bias: Parameter?
  public let epsilon: Float

  public init(width: Int, epsilon: Float = 1e-5, hasBias: Bool = true) {
    weight = Parameter(Tensor.ones([width]))
    bias = hasBias ? Parameter(Tensor.zeros([width])) : nil
    self.epsilon = epsilon
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    x.layerNorm(weight: weight.value, bias: bias?.value, epsilon: epsilon)
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }
}

/// Root-mean-square normalisation with a learned scale (T5's layer norm).
public final class RMSNorm: ParameterContainer {
  public let weight: Parameter
  public let epsilon: Float

  public init(width: Int, epsilon: Float = 1e-6) {
    weight = Parameter(Tensor.ones([width]))
    self.epsilon = epsilon
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight.value, epsilon: epsilon) }

  public func namedParameters() -> [(key: String, parameter: Parameter)] { [("weight", weight)] }
}

/// Weight initialisers drawing from a caller's seeded generator.
public enum Initializers {
  /// Uniform in (−bound, bound).
  public static func uniform(_ shape: [Int], bound: Float, using generator: inout SeededRandom) -> Tensor {
    Tensor.uniform(shape, low: -bound, high: bound, using: &generator)
  }

  /// Normal(mean, std²).
  public static func normal(_ shape: [Int], mean: Float = 0, std: Float, using generator: inout SeededRandom) -> Tensor {
    Tensor.normal(shape, mean: mean, std: std, using: &generator)
  }
}
