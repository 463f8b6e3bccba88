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
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
      guard isFolder.boolValue else {
        throw FileAccessError(path: url.path, action: .createFolder, reason: "a file of that name exists")
      }
      return
    }
    var parent = url.standardizedFileURL.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: parent.path, isDirectory: &isFolder), parent.path != "/" {
      parent = parent.deletingLastPathComponent()
    }
    guard isFolder.boolValue else {
      throw FileAccessError(path: url.path, action: .createFolder, reason: "'\(parent.path)' is a file")
    }
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
      let reason = access(parent.path, W_OK | X_OK) == 0 ? "\(error.localizedDescription)" : String(cString: strerror(errno))
      throw FileAccessError(path: url.path, action: .createFolder, reason: "'\(parent.path)': \(reason)")
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

  init(path: String, action: Action, code: Int32) {
    self.init(path: path, action: action, reason: String(cString: strerror(code)))
  }

  public var description: String { "cannot \(action.rawValue) '\(path)': \(reason)" }
  public var errorDescription: String? { description }
}
