/// A contiguous, 64-byte aligned buffer of `Float` that backs one or more tensors.
///
/// Tensors share a storage until one of them is mutated; mutation copies first
/// when the storage is shared (copy-on-write, see `Tensor.withMutableValues`).
public final class TensorStorage: @unchecked Sendable {
  /// The number of elements.
  public let count: Int
  /// The first element. Valid for the life of the storage.
  public let pointer: UnsafeMutablePointer<Float>

  /// Allocates uninitialised storage for `count` elements.
  public init(uninitializedCount count: Int) {
    precondition(count >= 0, "negative element count \(count)")
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
  }

  /// Allocates storage with every element set to `value`.
  public convenience init(count: Int, repeating value: Float) {
    self.init(uninitializedCount: count)
    pointer.update(repeating: value, count: count)
  }

  /// Makes an independent copy.
  public func copy() -> TensorStorage {
    let other = TensorStorage(uninitializedCount: count)
    other.pointer.update(from: pointer, count: count)
    return other
  }

  deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
