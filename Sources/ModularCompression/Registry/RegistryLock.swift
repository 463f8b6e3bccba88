import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An advisory `flock` on the registry folder's `.lock` file. Writers hold it
/// exclusively around every read-modify-write of the manifest; readers hold
/// it shared so they never pair a new module file with an old checksum.
///
/// Each acquisition opens the lock file afresh: `flock` locks belong to an
/// open file description, so two threads (or processes) exclude each other
/// as long as each has its own.
enum RegistryLock {
  enum Mode { case shared, exclusive }

  static let fileName = ".lock"

  /// Runs `body` while holding the lock of `folder` in `mode`.
  static func withLock<T>(_ folder: URL, _ mode: Mode, _ body: () throws -> T) throws -> T {
    let path = folder.appendingPathComponent(fileName).path
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno))) }
    defer { _ = close(descriptor) }  // closing releases the lock
    while flock(descriptor, mode == .exclusive ? LOCK_EX : LOCK_SH) != 0 {
      guard errno == EINTR else { throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno))) }
    }
    return try body()
  }
}
