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
///
/// A writer records itself (``LockHolder``) in the lock file while it holds
/// the lock, so that a process that has to wait can say whom it waits for.
enum RegistryLock {
  enum Mode { case shared, exclusive }

  static let fileName = ".lock"

  /// Runs `body` while holding the lock of `folder` in `mode`. A reader of a
  /// folder it may not write (a read-only checkout) goes without the lock when
  /// the lock file cannot be created: nobody else can write there either.
  /// When the lock is taken, `onWait` is called once, with the writer holding
  /// it if the lock file names one that is still running, before waiting.
  static func withLock<T>(
    _ folder: URL, _ mode: Mode, onWait: (URL, LockHolder?) -> Void = reportWait, _ body: () throws -> T
  ) throws -> T {
    let url = folder.appendingPathComponent(fileName)
    let path = url.path
    var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    if descriptor < 0, mode == .shared, [EACCES, EROFS, EPERM].contains(errno) {
      descriptor = open(path, O_RDONLY | O_CLOEXEC)
      if descriptor < 0 { return try body() }
    }
    guard descriptor >= 0 else { throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno))) }
    defer { _ = close(descriptor) }  // closing releases the lock
    let operation = mode == .exclusive ? LOCK_EX : LOCK_SH
    if try !lock(descriptor, operation | LOCK_NB, path) {
      onWait(folder, LockHolder.read(descriptor).flatMap { $0.isRunning ? $0 : nil })
      _ = try lock(descriptor, operation, path)
    }
    guard mode == .exclusive else { return try body() }
    LockHolder.current().write(descriptor)
    defer { _ = ftruncate(descriptor, 0) }  // released: nobody to name
    return try body()
  }

  /// `flock`, retried when interrupted; false when a non-blocking request finds the lock taken.
  private static func lock(_ descriptor: Int32, _ operation: Int32, _ path: String) throws -> Bool {
    while flock(descriptor, operation) != 0 {
      if errno == EINTR { continue }
      if errno == EWOULDBLOCK { return false }
      throw RegistryError.lockFailed(file: path, reason: String(cString: strerror(errno)))
    }
    return true
  }

  /// Tells the user on standard error whom the process waits for.
  static func reportWait(_ folder: URL, _ holder: LockHolder?) {
    FileHandle.standardError.write(Data((waitMessage(folder, holder) + "\n").utf8))
  }

  static func waitMessage(_ folder: URL, _ holder: LockHolder?) -> String {
    let who =
      holder.map { "process \($0.pid) (\($0.command)), which has held it since \($0.since)" }
      ?? "another process reading or writing the registry"
    return "waiting for the lock of registry '\(folder.path)': held by \(who)"
  }
}

/// The process holding a registry's lock, as recorded in its lock file.
struct LockHolder: Codable, Equatable {
  var pid: Int32
  var command: String
  /// ISO 8601, when the lock was taken.
  var since: String

  /// The longest command kept in the record: enough to recognise it, and
  /// the record always fits the reader's buffer however long the command line.
  static let commandLimit = 2000

  static func current() -> LockHolder {
    let command = CommandLine.arguments.joined(separator: " ")
    return LockHolder(
      pid: getpid(), command: command.count > commandLimit ? String(command.prefix(commandLimit)) + " …" : command,
      since: ISO8601DateFormatter().string(from: Date()))
  }

  /// Whether a process with this pid still exists (a killed holder leaves its record behind).
  var isRunning: Bool { kill(pid, 0) == 0 || errno == EPERM }

  /// Replaces the lock file's content with this record.
  func write(_ descriptor: Int32) {
    guard let data = try? JSONEncoder().encode(self), ftruncate(descriptor, 0) == 0 else { return }
    _ = data.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
  }

  /// The record in the lock file, if it holds one.
  static func read(_ descriptor: Int32) -> LockHolder? {
    var buffer = [UInt8](repeating: 0, count: 6 * commandLimit + 1024)  // room for JSON escapes
    let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return try? JSONDecoder().decode(LockHolder.self, from: Data(buffer[..<count]))
  }
}
