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

  /// Runs `body` while holding the lock of `folder` in `mode`. A reader of a
  /// folder it may not write (a read-only checkout) goes without the lock when
  /// the lock file cannot be created: nobody else can write there either.
  static func withLock<T>(_ folder: URL, _ mode: Mode, _ body: () throws -> T) throws -> T {
    let path = folder.appendingPathComponent(fileName).path
    var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    if descriptor < 0, mode == .shared, [EACCES, EROFS, EPERM].contains(errno) {
      descriptor = open(path, O_RDONLY | O_CLOEXEC)
      if descriptor < 0 { return try body() }
    }
    guard descriptor >= 0 else { throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno))) }
    defer { _ = close(descriptor) }  // closing releases the lock
    while flock(descriptor, mode == .exclusive ? LOCK_EX : LOCK_SH) != 0 {
      guard errno == EINTR else { throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno))) }
    }
    return try body()
  }
}
