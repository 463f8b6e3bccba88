import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reading whole files and making folders with errors that name the path and
/// give the system's reason, instead of Foundation's generic messages.
public enum FileAccess {
  /// The bytes of the file at `url`.
  public static func read(_ url: URL) throws -> Data {
    let path = url.path
    var status = stat()
    guard stat(path, &status) == 0 else { throw FileAccessError(path: path, action: .read, code: errno) }
    guard status.st_mode & S_IFMT != S_IFDIR else {
      throw FileAccessError(path: path, action: .read, reason: "it is a folder, not a file")
    }
    // Opening first tells a missing file from an unreadable one by errno.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw FileAccessError(path: path, action: .read, code: errno) }
    _ = close(descriptor)
    do {
      return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
      throw FileAccessError(path: path, action: .read, reason: "the read failed (\(error.localizedDescription))")
    }
  }

  /// Creates the folder at `url` and any missing folders above it; an
  /// existing folder is fine.
  public static func createFolder(_ url: URL) throws {
    var missing: [String] = []
    var path = url.standardizedFileURL.path
    var status = stat()
    while stat(path, &status) != 0 {
      missing.append(path)
      path = (path as NSString).deletingLastPathComponent
    }
    guard status.st_mode & S_IFMT == S_IFDIR else {
      throw FileAccessError(
        path: url.path, action: .createFolder,
        reason: missing.isEmpty ? "a file of that name exists" : "'\(path)' is a file")
    }
    for folder in missing.reversed() {
      // Another process may have made it meanwhile.
      guard mkdir(folder, 0o755) == 0 || errno == EEXIST else {
        throw FileAccessError(path: url.path, action: .createFolder, code: errno, in: folder)
      }
    }
  }
}

/// A file that cannot be read, or a folder that cannot be made, with the path and why.
public struct FileAccessError: LocalizedError, CustomStringConvertible, Equatable {
  public enum Action: String, Sendable {
    case read = "read"
    case createFolder = "create the folder"
  }

  public let path: String
  public let action: Action
  /// Why, in words (`No such file or directory`, `it is a folder, not a file`).
  public let reason: String

  public init(path: String, action: Action, reason: String) {
    self.path = path
    self.action = action
    self.reason = reason
  }

  /// The system's reason for `code`, at `folder` when that is not `path` itself.
  init(path: String, action: Action, code: Int32, in folder: String? = nil) {
    let reason = String(cString: strerror(code))
    self.init(path: path, action: action, reason: folder.map { $0 == path ? reason : "'\($0)': \(reason)" } ?? reason)
  }

  public var description: String { "cannot \(action.rawValue) '\(path)': \(reason)" }
  public var errorDescription: String? { description }
}
