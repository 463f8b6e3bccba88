import Dispatch
import WorkerPool

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How many threads kernels use: `TESSERA_THREADS`, or every core.
public enum ThreadCount {
  nonisolated(unsafe) private static var override: Int?

  /// The number of threads used by elementwise kernels and BLAS.
  public static var current: Int {
    if let override { return override }
    return EnvironmentSettings.threads ?? ProcessInfoCores.activeCount
  }

  /// Sets the thread count for this process (benchmarks compare 1 and 2).
  public static func set(_ threads: Int) {
    precondition(threads > 0, "thread count must be positive")
    override = threads
    BLAS.setThreadCount(threads)
  }
}

enum ProcessInfoCores {
  static let activeCount: Int = {
    let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    return n > 0 ? n : 1
  }()
}

/// Splits `0..<count` into contiguous chunks run on up to ``ThreadCount/current``
/// threads. Small jobs (under `grain` elements) run inline: thread start-up
/// costs more than it saves.
@inlinable
public func parallelChunks(
  _ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void
) {
  let threads = Swift.min(ThreadCount.current, Swift.max(1, count / grain))
  if threads <= 1 {
    body(0..<count)
    return
  }
  let chunk = (count + threads - 1) / threads
  runOnWorkers(threads) { index in
    let start = index * chunk
    let end = Swift.min(count, start + chunk)
    if start < end { body(start..<end) }
  }
}

/// Runs `body(0)`…`body(count − 1)` on this thread and the worker pool's
/// (``ThreadCount/current`` − 1 of them), returning when all are done.
@usableFromInline
func runOnWorkers(_ count: Int, _ body: (Int) -> Void) {
  withoutActuallyEscaping(body) { work in
    var job = work
    withUnsafeMutablePointer(to: &job) { pointer in
      wp_run(count, Int32(Swift.max(0, ThreadCount.current - 1)), { context, index in
        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
      }, pointer)
    }
  }
}
