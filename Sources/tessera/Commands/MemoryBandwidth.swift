import Foundation
import TensorCore

/// The memory read bandwidth the benchmark's threads reach: the best of a few
/// passes summing a buffer far larger than the caches.
enum MemoryBandwidth {
  /// Bytes per second.
  static func measure(bytes: Int = 1 << 28, passes: Int = 4) -> Double {
    let count = bytes / MemoryLayout<SIMD16<Float>>.stride
    let buffer = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: count)
    defer { buffer.deallocate() }
    buffer.initialize(repeating: SIMD16(repeating: 1), count: count)
    var best = Double.infinity
    var total: Float = 0
    for _ in 0..<passes {
      let start = DispatchTime.now().uptimeNanoseconds
      let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: ThreadCount.current * 16)
      sums.initialize(repeating: 0)
      let chunk = (count + ThreadCount.current - 1) / ThreadCount.current
      parallelChunks(ThreadCount.current, grain: 1) { threads in
        for thread in threads {
          var (a, b, c, d) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
          var index = thread * chunk
          let end = Swift.min(count, index + chunk)
          while index + 4 <= end {
            a += buffer[index]; b += buffer[index + 1]; c += buffer[index + 2]; d += buffer[index + 3]
            index += 4
          }
          sums[thread * 16] = (a + b + c + d).sum()
        }
      }
      total += sums.reduce(0, +)
      sums.deallocate()
      best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    // The sum keeps the loop from being optimised away.
    precondition(total > 0, "bandwidth probe read nothing")
    return Double(count * MemoryLayout<SIMD16<Float>>.stride) / best
  }
}
