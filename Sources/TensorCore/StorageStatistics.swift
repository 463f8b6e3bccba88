import Foundation

/// Byte counts of tensor storage, for benchmarks and memory reports: what live
/// tensors hold, and what tensor buffers hold in all (live ones plus those the
/// pool keeps idle for reuse), each with its peak since the last
/// ``resetPeaks()``. Counting costs one uncontended lock per allocation (the
/// package targets macOS 13, which has no `Synchronization.Atomic`).
public enum StorageStatistics {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var live = 0
  nonisolated(unsafe) private static var peakLive = 0
  nonisolated(unsafe) private static var held = 0
  nonisolated(unsafe) private static var peakHeld = 0

  /// Bytes held by tensor storages that are alive now.
  public static var liveBytes: Int { lock.withLock { live } }
  /// The most ``liveBytes`` reached since the process started or the last ``resetPeaks()``.
  public static var peakLiveBytes: Int { lock.withLock { peakLive } }
  /// Bytes of tensor buffers taken from the system and not given back: live ones and the pool's idle ones.
  public static var heldBytes: Int { lock.withLock { held } }
  /// The most ``heldBytes`` reached since the process started or the last ``resetPeaks()``.
  public static var peakHeldBytes: Int { lock.withLock { peakHeld } }

  /// Starts new peaks from what is live and held now.
  public static func resetPeaks() {
    lock.withLock {
      peakLive = live
      peakHeld = held
    }
  }

  /// A storage of `bytes` was made, from a new buffer or (`fresh` false) a pooled one.
  static func allocated(_ bytes: Int, fresh: Bool) {
    lock.withLock {
      live += bytes
      peakLive = Swift.max(peakLive, live)
      if fresh {
        held += bytes
        peakHeld = Swift.max(peakHeld, held)
      }
    }
  }

  /// A storage of `bytes` was freed, into the pool (`pooled`) or back to the system.
  static func freed(_ bytes: Int, pooled: Bool) {
    lock.withLock {
      live -= bytes
      if !pooled { held -= bytes }
    }
  }
}

/// Resident memory of this process, as the kernel counts it.
public enum ProcessMemory {
  /// The most resident bytes this process has held (`getrusage`'s maximum RSS).
  public static var peakResidentBytes: Int {
    var usage = rusage()
    #if os(Linux)
      guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
      return usage.ru_maxrss * 1024  // kilobytes on Linux
    #else
      guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
      return usage.ru_maxrss  // bytes on macOS
    #endif
  }

  /// Resident bytes now (Linux `/proc/self/statm`; nil elsewhere).
  public static var residentBytes: Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }
}
