/// An n-dimensional array of `Float`, row-major and always contiguous.
///
/// `Tensor` is a value type: copies share storage until one is mutated
/// (copy-on-write). A tensor that takes part in automatic differentiation
/// carries an ``AutogradNode``; see ``requiresGrad`` and ``backward()``.
///
/// Shapes in comments use fixed letters: B batch, T target length, S source
/// length, C model width, H heads, D head width, F feed-forward width, V vocabulary.
public struct Tensor: @unchecked Sendable {
  /// The extent of each dimension; `[]` for a scalar.
  public internal(set) var shape: [Int]
  @usableFromInline internal var storage: TensorStorage
  @usableFromInline internal var node: AutogradNode?

  /// Wraps existing storage; `storage.count` must equal the product of `shape`.
  public init(shape: [Int], storage: TensorStorage) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
    precondition(
      Tensor.elementCount(shape) == storage.count,
      "shape \(shape) needs \(Tensor.elementCount(shape)) elements, storage has \(storage.count)")
    self.shape = shape
    self.storage = storage
    self.node = nil
  }

  /// A tensor holding `values` laid out row-major in `shape`.
  public init(_ values: [Float], shape: [Int]) {
    precondition(
      Tensor.elementCount(shape) == values.count,
      "shape \(shape) needs \(Tensor.elementCount(shape)) values, got \(values.count)")
    let storage = TensorStorage(uninitializedCount: values.count)
    values.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { storage.pointer.update(from: base, count: values.count) }
    }
    self.init(shape: shape, storage: storage)
  }

  /// A one-dimensional tensor holding `values`.
  public init(_ values: [Float]) { self.init(values, shape: [values.count]) }

  /// A rank-0 tensor.
  public init(scalar: Float) { self.init([scalar], shape: []) }

  /// An uninitialised tensor; every element must be written before it is read.
  public init(uninitializedShape shape: [Int]) {
    self.init(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
  }

  /// A tensor with every element equal to `value`.
  public init(repeating value: Float, shape: [Int]) {
    self.init(
      shape: shape, storage: TensorStorage(count: Tensor.elementCount(shape), repeating: value))
  }

  /// The product of the dimensions of `shape`.
  @inlinable public static func elementCount(_ shape: [Int]) -> Int {
    shape.reduce(1, *)
  }

  /// The number of elements.
  @inlinable public var count: Int { storage.count }
  /// The number of dimensions.
  @inlinable public var rank: Int { shape.count }

  /// The elements in row-major order.
  public var scalars: [Float] {
    Array(UnsafeBufferPointer(start: storage.pointer, count: count))
  }

  /// The single element of a one-element tensor.
  public func item() -> Float {
    precondition(count == 1, "item() needs a one-element tensor, shape is \(shape)")
    return storage.pointer[0]
  }

  /// Reads the elements without copying.
  @inlinable public func withValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.pointer, count: count))
  }

  /// Mutates the elements in place, copying the storage first if it is shared.
  /// The tensor leaves any autodiff graph it belonged to.
  @inlinable public mutating func withMutableValues<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
  }

  /// The element at a multi-dimensional index (slow; for tests and debugging).
  public subscript(indices: Int...) -> Float {
    get { storage.pointer[flatIndex(indices)] }
    set {
      let index = flatIndex(indices)
      withMutableValues { $0[index] = newValue }
    }
  }

  private func flatIndex(_ indices: [Int]) -> Int {
    precondition(indices.count == rank, "index \(indices) has the wrong rank for shape \(shape)")
    var flat = 0
    for (axis, index) in indices.enumerated() {
      precondition(index >= 0 && index < shape[axis], "index \(indices) out of range for \(shape)")
      flat = flat * shape[axis] + index
    }
    return flat
  }

  /// Whether both tensors share one storage (for tests of copy-on-write).
  func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor {
  /// A tensor of zeros.
  public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
  /// A tensor of ones.
  public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }
  /// A tensor with every element equal to `value`.
  public static func full(_ value: Float, _ shape: [Int]) -> Tensor {
    Tensor(repeating: value, shape: shape)
  }
  /// `start, start + step, …` up to but excluding `end`.
  public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
    precondition(step != 0, "arange step must not be zero")
    let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
    return Tensor((0..<n).map { start + Float($0) * step })
  }
  /// A tensor of zeros with the shape of `other`.
  public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape) }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let shown = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
    return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
  }
}
