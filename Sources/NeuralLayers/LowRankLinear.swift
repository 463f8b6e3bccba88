import TensorCore

/// `y = (x · Vᵀ) · Uᵀ + b` with `U` `[out, r]` and `V` `[r, in]`: a dense
/// layer replaced by a rank-`r` factorisation (two products, `r·(in + out)`
/// weights instead of `in·out`). Its parameters are `down.weight` (V),
/// `up.weight` (U) and `bias`, so it trains and loads like any layer; the two
/// factors are layers of their own (`down`, `up`), which quantization can replace.
public final class LowRankLinear: LinearLayer, LayerTree {
  public private(set) var down: any LinearLayer
  public private(set) var up: any LinearLayer
  public let bias: Parameter?

  public var inputSize: Int { down.inputSize }
  public var outputSize: Int { up.outputSize }
  public var rank: Int { down.outputSize }

  public init(down: any LinearLayer, up: any LinearLayer, bias: Parameter?) {
    precondition(down.outputSize == up.inputSize, "down [r, in], then up [out, r]")
    self.down = down
    self.up = up
    self.bias = bias
  }

  /// Zero factors of rank `rank` (their values come from a checkpoint).
  public convenience init(inputSize: Int, outputSize: Int, rank: Int, hasBias: Bool) {
    self.init(
      down: Linear(weight: Parameter(Tensor.zeros([rank, inputSize]))), up: Linear(weight: Parameter(Tensor.zeros([outputSize, rank]))),
      bias: hasBias ? Parameter(Tensor.zeros([outputSize])) : nil)
  }

  /// The best rank-`rank` factorisation of `linear`'s weights (truncated SVD,
  /// the singular values folded into `U`); the bias is kept as it is. With
  /// `rowImportance` (one value ≥ 0 per output row), the best one for the error
  /// weighted by it: the SVD of `diag(√I)·W`, unweighted again in `U` (rows of
  /// importance 0 get the smallest positive importance, so they stay defined).
  public convenience init(factorising linear: Linear, rank: Int, rowImportance: [Float]? = nil) throws {
    var weight = linear.weight.value
    var scales: [Float]?
    if let importance = rowImportance {
      precondition(importance.count == linear.outputSize, "one importance per output row")
      let floor = importance.filter { $0 > 0 && $0.isFinite }.min() ?? 1
      let roots = importance.map { ($0 > 0 && $0.isFinite ? $0 : floor).squareRoot() }
      weight = Tensor(roots, shape: [roots.count, 1]) * weight
      scales = roots
    }
    let svd = try SingularValueDecomposition(weight)
    var (left, right) = svd.truncated(rank: rank)
    if let scales { left = Tensor(scales.map { 1 / $0 }, shape: [scales.count, 1]) * left }
    self.init(
      down: Linear(weight: Parameter(right)), up: Linear(weight: Parameter(left)),
      bias: linear.bias.map { Parameter($0.value.detached()) })
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let y = up(down(x))
    return bias.map { y + $0.value } ?? y
  }

  public func fused() -> Linear {
    let weight = withoutGradient { up.fused().weight.value.matmul(down.fused().weight.value) }
    return Linear(weight: Parameter(weight), bias: bias.map { Parameter($0.value.detached()) })
  }

  public var sublayers: [(key: String, layer: any ParameterContainer)] { [("down", down), ("up", up)] }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    joinKeys("down", down.namedParameters()) + joinKeys("up", up.namedParameters()) + (bias.map { [("bias", $0)] } ?? [])
  }

  public func replaceSublayer(_ key: String, with layer: any LinearLayer) -> Bool {
    switch key {
    case "down": down = layer
    case "up": up = layer
    default: return false
    }
    return true
  }

  /// The rank that stores about `1 / ratio` of an `[out, in]` layer's weights: `⌊in·out / (ratio·(in + out))⌋`, at least 1.
  public static func rank(inputSize: Int, outputSize: Int, ratio: Double) -> Int {
    Swift.max(1, Int(Double(inputSize * outputSize) / (ratio * Double(inputSize + outputSize))))
  }
}
