import Foundation

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
    let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
    let pooled = StoragePool.take(bytes: bytes)
    StorageStatistics.allocated(bytes, fresh: pooled == nil)
    let raw = pooled ?? StoragePool.allocate(bytes: bytes)
    pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
  }

  /// Allocates storage with every element set to `value`.
  public convenience init(count: Int, repeating value: Float) {
    self.init(uninitializedCount: count)
    let target = pointer
    // Large fills (gradient buffers the size of an embedding table) in parallel.
    parallelChunks(count, grain: 1 << 18) { range in
      (target + range.lowerBound).update(repeating: value, count: range.count)
    }
  }

  /// Makes an independent copy.
  public func copy() -> TensorStorage {
    let other = TensorStorage(uninitializedCount: count)
    other.pointer.update(from: pointer, count: count)
    return other
  }

  deinit {
    let raw = UnsafeMutableRawPointer(pointer)
    let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
    let pooled = StoragePool.give(raw, bytes: bytes)
    StorageStatistics.freed(bytes, pooled: pooled)
    if !pooled { raw.deallocate() }
  }
}

/// Recycles large buffers by exact size. The system allocator maps every large
/// block afresh, so each new activation or gradient would page-fault its whole
/// size in; training and benchmarks ask for the same sizes over and over.
enum StoragePool {
  /// Buffers smaller than this go straight back to the allocator.
  static let minimumBytes = 1 << 20
  /// The most bytes kept idle in the pool.
  static let limitBytes = 1 << 30
  private static let lock = NSLock()
  nonisolated(unsafe) private static var idle: [Int: [UnsafeMutableRawPointer]] = [:]
  nonisolated(unsafe) private static var idleBytes = 0

  /// Buffers from this size on are backed by 2 MiB pages where the OS allows
  /// it (Linux transparent huge pages, on request): streaming kernels over
  /// tens of megabytes then take no TLB miss and no page fault every 4 KiB.
  static let hugePageBytes = 1 << 21

  /// A new 64-byte aligned buffer; large ones are 2 MiB aligned and marked for
  /// huge pages.
  static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
    guard bytes >= 2 * hugePageBytes else { return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: hugePageBytes)
    #if os(Linux)
      // Advice only: if refused, the buffer simply keeps 4 KiB pages.
      _ = madvise(buffer, bytes & ~(hugePageBytes - 1), MADV_HUGEPAGE)
    #endif
    return buffer
  }

  static func take(bytes: Int) -> UnsafeMutableRawPointer? {
    guard bytes >= minimumBytes else { return nil }
    lock.lock()
    defer { lock.unlock() }
    guard let buffer = idle[bytes]?.popLast() else { return nil }
    idleBytes -= bytes
    return buffer
  }

  /// Keeps `buffer` for reuse; false when it should be freed instead.
  static func give(_ buffer: UnsafeMutableRawPointer, bytes: Int) -> Bool {
    guard bytes >= minimumBytes else { return false }
    lock.lock()
    defer { lock.unlock() }
    guard idleBytes + bytes <= limitBytes else { return false }
    idle[bytes, default: []].append(buffer)
    idleBytes += bytes
    return true
  }
}
