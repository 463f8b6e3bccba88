import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files so that a reader sees either the old file or the complete new
/// one, never a partial write — even if the process dies halfway.
///
/// The bytes go to a temporary file in the destination's folder (so the final
/// rename stays on one file system), which is flushed with `fsync`, closed and
/// then renamed over the destination; the folder is synced afterwards so the
/// rename itself survives a crash. On any failure the temporary file is removed
/// and the destination is left untouched. Every file Tessera writes
/// (checkpoints, manifests, models, reports) goes through here.
///
/// A new file gets mode `0644` less the process umask; the mode of a file it
/// replaces is not carried over.
public enum AtomicFile {
  /// Atomically replaces (or creates) the file at `url` with `data`.
  public static func write(_ data: Data, to url: URL) throws {
    try write(to: url) { try $0.write(data) }
  }

  /// Atomically replaces (or creates) the file at `url` with whatever `produce`
  /// writes, for outputs too large to assemble in memory first. If `produce`
  /// throws, its error is rethrown and the destination is left untouched.
  ///
  /// The writer is valid only while `produce` runs.
  public static func write(to url: URL, _ produce: (AtomicFileWriter) throws -> Void) throws {
    let path = url.path
    let directory = url.deletingLastPathComponent().path
    // The random suffix only avoids clashes between concurrent writers; it does
    // not affect any output, so the system generator is fine here.
    let temporaryPath =
      directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw AtomicFileError(.createTemporary, path: path, code: errno) }

    var isOpen = true
    var isRenamed = false
    defer {
      if isOpen { _ = close(descriptor) }
      if !isRenamed { _ = unlink(temporaryPath) }
    }
    try produce(AtomicFileWriter(descriptor: descriptor, path: path))
    guard fsync(descriptor) == 0 else { throw AtomicFileError(.sync, path: path, code: errno) }
    isOpen = false
    // A failing close can report a delayed write error (e.g. on network file systems).
    guard close(descriptor) == 0 else { throw AtomicFileError(.close, path: path, code: errno) }
    guard rename(temporaryPath, path) == 0 else { throw AtomicFileError(.rename, path: path, code: errno) }
    isRenamed = true
    syncDirectory(directory)
  }

  /// Flushes the folder entry so the rename is durable. Best effort: some file
  /// systems refuse `fsync` on a folder, and the data itself is already safe.
  private static func syncDirectory(_ directory: String) {
    let descriptor = open(directory, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = fsync(descriptor)
    _ = close(descriptor)
  }
}

/// Appends bytes to the temporary file of an ``AtomicFile`` write.
public final class AtomicFileWriter {
  private let descriptor: Int32
  private let path: String
  /// The number of bytes written so far.
  public private(set) var byteCount = 0

  fileprivate init(descriptor: Int32, path: String) {
    self.descriptor = descriptor
    self.path = path
  }

  /// Appends `data`.
  public func write(_ data: Data) throws {
    try data.withUnsafeBytes { try write($0) }
  }

  /// Appends the bytes of `buffer`, retrying short and interrupted writes.
  public func write(_ buffer: UnsafeRawBufferPointer) throws {
    guard var next = buffer.baseAddress else { return }
    var remaining = buffer.count
    while remaining > 0 {
      // Linux moves at most about 2 GiB per call; ask for 1 GiB at a time.
      let written = systemWrite(descriptor, next, Swift.min(remaining, 1 << 30))
      if written < 0 {
        if errno == EINTR { continue }
        throw AtomicFileError(.write, path: path, code: errno)
      }
      next += written
      remaining -= written
      byteCount += written
    }
  }
}

/// `write(2)`, named apart from the writer's own `write` methods.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
  #else
    Darwin.write(descriptor, bytes, count)
  #endif
}

/// A failed step of an ``AtomicFile`` write, with the destination path and the
/// system's reason.
public struct AtomicFileError: LocalizedError, CustomStringConvertible, Equatable {
  /// The step that failed.
  public enum Step: String, Sendable {
    case createTemporary = "create a temporary file next to"
    case write = "write"
    case sync = "flush"
    case close = "close the temporary file for"
    case rename = "replace"
  }

  /// The step that failed.
  public let step: Step
  /// The destination file.
  public let path: String
  /// The `errno` value.
  public let code: Int32

  public init(_ step: Step, path: String, code: Int32) {
    self.step = step
    self.path = path
    self.code = code
  }

  /// Says what is wrong in the user's terms where the step and `errno`
  /// tell it (a missing or read-only folder, a folder in the file's place),
  /// else the step and the system's reason.
  public var description: String {
    let folder = (path as NSString).deletingLastPathComponent
    let reason = String(cString: strerror(code))
    switch (step, code) {
    case (.createTemporary, ENOENT): return "cannot write '\(path)': the folder '\(folder)' does not exist"
    case (.createTemporary, ENOTDIR): return "cannot write '\(path)': '\(folder)' is not a folder"
    case (.createTemporary, EACCES), (.createTemporary, EPERM), (.createTemporary, EROFS):
      return "cannot write '\(path)': the folder '\(folder)' is not writable (\(reason))"
    case (.rename, EISDIR), (.rename, ENOTEMPTY), (.rename, EEXIST):
      return "cannot replace '\(path)': it is a folder, not a file"
    case (.write, ENOSPC), (.sync, ENOSPC), (.close, ENOSPC):
      return "cannot write '\(path)': the disk is full (\(reason)); the previous file, if any, is unchanged"
    default: return "cannot \(step.rawValue) '\(path)': \(reason)"
    }
  }

  public var errorDescription: String? { description }
}
