import QuantizedKernels
import TensorCore

/// How the weights of a quantized linear layer are stored and multiplied.
public enum QuantizationScheme: String, Sendable, CaseIterable, Codable {
  /// Int8 weights with one symmetric scale per output row; inputs quantized
  /// to int8 per row on each call; int32 sums.
  case int8
  /// Bfloat16 weights widened to fp32 on the fly; fp32 inputs and sums.
  case bf16

  /// The instruction set its kernels use on this CPU ("avx512-vnni", "avx512", "avx2", "portable").
  public var kernelName: String { String(cString: self == .int8 ? tq_int8_name() : tq_bf16_name()) }
}

/// A linear layer whose weights are stored quantized: ``Int8Linear`` or ``BF16Linear``.
public protocol QuantizedLinearLayer: LinearLayer {
  var scheme: QuantizationScheme { get }
  /// The bias, a parameter like any layer's (nil without one).
  var bias: Parameter? { get }
  /// True for a quantized copy of a weight the model keeps elsewhere (a head
  /// tied to the embedding): its weights are counted once, as that weight.
  var copiesTiedWeight: Bool { get set }
  /// True for a pruned layer whose folder stores only its nonzero values and
  /// a bitmask (quantizing keeps the zeros exactly, so the sparsity survives).
  var storesSparse: Bool { get set }
  /// The weight tensors a checkpoint stores for this layer, keyed relative to
  /// it, with their file types (the bias, a parameter, is stored as usual).
  func storedWeights() -> [(key: String, tensor: Tensor, dtype: SafeTensorsDType)]
}

/// Quantized weights that do not hold what a quantized layer needs.
public enum QuantizedWeightError: Error, CustomStringConvertible, Equatable {
  case invalid(key: String, reason: String)

  public var description: String {
    switch self {
    case .invalid(let key, let reason): "quantized weight '\(key)': \(reason)"
    }
  }
}

/// `x` `[…, in]` times a weight `[out, in]` plus `bias`, by `kernel`, which
/// computes output columns `j0..<j1` of all rows: `kernel(input, rows, output,
/// bias, j0, j1)` with row-major `[rows, in]` inputs and `[rows, out]` outputs.
/// The columns are split over the kernel threads so that a thread gets at
/// least about 2¹⁷ multiply-adds.
func productOverOutputs(
  _ x: Tensor, inputSize: Int, outputSize: Int, bias: Parameter?,
  _ kernel: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, UnsafePointer<Float>?, Int, Int) -> Void
) -> Tensor {
  precondition(x.rank >= 1 && x.shape[x.rank - 1] == inputSize, "expected inputs [..., \(inputSize)], got \(x.shape)")
  let rows = x.count / inputSize
  var y = Tensor(uninitializedShape: [rows, outputSize])
  y.withMutableValues { output in
    x.withValues { input in
      func run(_ biasPointer: UnsafePointer<Float>?) {
        parallelChunks(outputSize, grain: Swift.max(1, (1 << 17) / Swift.max(1, rows * inputSize))) { range in
          kernel(input.baseAddress!, rows, output.baseAddress!, biasPointer, range.lowerBound, range.upperBound)
        }
      }
      if let bias { bias.value.withValues { run($0.baseAddress) } } else { run(nil) }
    }
  }
  return y.reshaped(Array(x.shape.dropLast()) + [outputSize])
}

/// `y = x · Wᵀ + b` with int8 `W` (per-row scales) and int8 inputs quantized per row on each call.
public final class Int8Linear: QuantizedLinearLayer {
  public let inputSize: Int
  public let outputSize: Int
  public let bias: Parameter?
  /// The row length of the weights in memory: `inputSize` rounded up to the kernels' alignment, zero-padded.
  let paddedInputSize: Int
  let weights: [Int8]
  let scales: [Float]
  /// Σ of each weight row (the kernel's correction for unsigned inputs).
  let rowSums: [Int32]

  public var scheme: QuantizationScheme { .int8 }
  public var copiesTiedWeight = false
  public var storesSparse = false

  /// Quantizes `linear`: each output row `w` gets the scale `max|w| / 127` and values `round(w / scale)`.
  public convenience init(quantizing linear: Linear) {
    let (values, scales) = Int8Linear.quantizeRows(linear.weight.value)
    // The values and scales are in range by construction.
    try! self.init(values: values, scales: scales, bias: linear.bias.map { Parameter($0.value.detached()) }, key: "")
  }

  /// A layer from stored integer values `[out, in]` (in −127…127) and scales `[out]` (finite, ≥ 0).
  ///
  /// - Throws: ``QuantizedWeightError`` naming `key` when a value is not such an integer or a scale is not such a number.
  public init(values: Tensor, scales: Tensor, bias: Parameter?, key: String) throws {
    guard values.rank == 2 else { throw QuantizedWeightError.invalid(key: key + ".weight", reason: "expected a matrix, found shape \(values.shape)") }
    let (rows, columns) = (values.shape[0], values.shape[1])
    guard scales.shape == [rows] else {
      throw QuantizedWeightError.invalid(key: key + ".weight_scale", reason: "expected shape [\(rows)], found \(scales.shape)")
    }
    if let bad = scales.scalars.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
      throw QuantizedWeightError.invalid(key: key + ".weight_scale", reason: "element \(bad) is \(scales.scalars[bad]), not a finite number ≥ 0")
    }
    let padded = (columns + Int(TQ_K_ALIGN) - 1) / Int(TQ_K_ALIGN) * Int(TQ_K_ALIGN)
    var stored = [Int8](repeating: 0, count: rows * padded)
    var sums = [Int32](repeating: 0, count: rows)
    let source = values.scalars
    for row in 0..<rows {
      for column in 0..<columns {
        let value = source[row * columns + column]
        guard value == value.rounded(), abs(value) <= 127 else {
          throw QuantizedWeightError.invalid(
            key: key + ".weight", reason: "element [\(row), \(column)] is \(value), not an integer in −127…127")
        }
        stored[row * padded + column] = Int8(value)
        sums[row] += Int32(value)
      }
    }
    if let bias, bias.shape != [rows] {
      throw QuantizedWeightError.invalid(key: key + ".bias", reason: "expected shape [\(rows)], found \(bias.shape)")
    }
    inputSize = columns
    outputSize = rows
    paddedInputSize = padded
    weights = stored
    self.scales = scales.scalars
    rowSums = sums
    self.bias = bias
  }

  /// Per-row symmetric int8 values (as floats) and scales of `weight` `[out, in]`.
  public static func quantizeRows(_ weight: Tensor) -> (values: Tensor, scales: Tensor) {
    let (rows, columns) = (weight.shape[0], weight.shape[1])
    var values = [Float](repeating: 0, count: rows * columns), scales = [Float](repeating: 0, count: rows)
    weight.withValues { w in
      for row in 0..<rows {
        let slice = w[(row * columns)..<((row + 1) * columns)]
        let largest = slice.reduce(0) { Swift.max($0, abs($1)) }
        guard largest > 0, largest.isFinite else { continue }
        scales[row] = largest / 127
        let inverse = 127 / largest
        for (column, value) in slice.enumerated() {
          values[row * columns + column] = Swift.min(127, Swift.max(-127, (value * inverse).rounded(.toNearestOrEven)))
        }
      }
    }
    return (Tensor(values, shape: [rows, columns]), Tensor(scales, shape: [rows]))
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == inputSize, "expected inputs [..., \(inputSize)], got \(x.shape)")
    let (k, kp, rows) = (inputSize, paddedInputSize, x.count / inputSize)
    var quantized = [UInt8](repeating: 0, count: rows * kp)
    var inputScales = [Float](repeating: 0, count: rows)
    x.withValues { input in
      tq_quantize_rows_u8(input.baseAddress, rows, k, k, kp, &quantized, &inputScales)
    }
    let y = productOverOutputs(x, inputSize: inputSize, outputSize: outputSize, bias: bias) { _, rows, out, bias, j0, j1 in
      tq_int8_gemm(quantized, inputScales, rows, kp, weights, scales, rowSums, bias, j0, j1, out, outputSize)
    }
    return recordingInputGradient(y, input: x)
  }

  /// The weights as floats, `[out, in]`: value × scale.
  public func dequantizedWeight() -> Tensor {
    var dense = [Float](repeating: 0, count: outputSize * inputSize)
    for row in 0..<outputSize {
      for column in 0..<inputSize {
        dense[row * inputSize + column] = Float(weights[row * paddedInputSize + column]) * scales[row]
      }
    }
    return Tensor(dense, shape: [outputSize, inputSize])
  }

  public func fused() -> Linear {
    Linear(weight: Parameter(dequantizedWeight()), bias: bias.map { Parameter($0.value.detached()) })
  }

  public func storedWeights() -> [(key: String, tensor: Tensor, dtype: SafeTensorsDType)] {
    var values = [Float](repeating: 0, count: outputSize * inputSize)
    for row in 0..<outputSize {
      for column in 0..<inputSize { values[row * inputSize + column] = Float(weights[row * paddedInputSize + column]) }
    }
    return [
      ("weight", Tensor(values, shape: [outputSize, inputSize]), .int8),
      ("weight_scale", Tensor(scales, shape: [outputSize]), .float32),
    ]
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] { bias.map { [("bias", $0)] } ?? [] }
}

/// `y = x · Wᵀ + b` with bfloat16 `W`, fp32 inputs and sums.
public final class BF16Linear: QuantizedLinearLayer {
  public let inputSize: Int
  public let outputSize: Int
  public let bias: Parameter?
  /// Bfloat16 bit patterns `[out, in]`.
  let weights: [UInt16]

  public var scheme: QuantizationScheme { .bf16 }
  public var copiesTiedWeight = false
  public var storesSparse = false

  /// Rounds `linear`'s weights to bfloat16 (nearest, ties to even).
  public convenience init(quantizing linear: Linear) {
    self.init(values: linear.weight.value, bias: linear.bias.map { Parameter($0.value.detached()) })
  }

  /// A layer from `[out, in]` values, each rounded to bfloat16 (exact for values read from a BF16 file).
  public init(values: Tensor, bias: Parameter?) {
    precondition(values.rank == 2, "expected a weight matrix, got \(values.shape)")
    outputSize = values.shape[0]
    inputSize = values.shape[1]
    weights = values.scalars.map(\.bfloat16Bits)
    self.bias = bias
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let y = productOverOutputs(x, inputSize: inputSize, outputSize: outputSize, bias: bias) { input, rows, out, bias, j0, j1 in
      tq_bf16_gemm(input, rows, inputSize, inputSize, weights, bias, j0, j1, out, outputSize)
    }
    return recordingInputGradient(y, input: x)
  }

  public func dequantizedWeight() -> Tensor {
    Tensor(weights.map { Float(bfloat16Bits: $0) }, shape: [outputSize, inputSize])
  }

  public func fused() -> Linear {
    Linear(weight: Parameter(dequantizedWeight()), bias: bias.map { Parameter($0.value.detached()) })
  }

  public func storedWeights() -> [(key: String, tensor: Tensor, dtype: SafeTensorsDType)] {
    [("weight", dequantizedWeight(), .bfloat16)]
  }

  public func namedParameters() -> [(key: String, parameter: Parameter)] { bias.map { [("bias", $0)] } ?? [] }
}

extension QuantizedLinearLayer {
  /// Lets gradients reach the inputs (through the dequantized weights) and
  /// the bias; the quantized weights themselves are fixed.
  func recordingInputGradient(_ y: Tensor, input x: Tensor) -> Tensor {
    var result = y
    let biasValue = bias?.value
    let inputs = [x] + (biasValue.map { [$0] } ?? [])
    let (inputShape, outputSize) = (x.shape, self.outputSize)
    Tensor.record(&result, inputs: inputs) { [self] gradient in
      let rows = gradient.reshaped([-1, outputSize])
      let dx = withoutGradient { rows.matmul(fused().weight.value).reshaped(inputShape) }
      return [dx] + (biasValue == nil ? [] : [rows.sum(axis: 0)])
    }
    return result
  }
}
