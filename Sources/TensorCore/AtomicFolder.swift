import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Replaces whole folders (model folders, checkpoints) so that at every moment
/// either the previous complete folder or the new complete one can be found.
///
/// The new folder is built beside the target as `.NAME.partial-*`. Where the
/// system can exchange two paths atomically (Linux `renameat2` with
/// `RENAME_EXCHANGE`, Darwin `renamex_np` with `RENAME_SWAP`), the swap is one
/// step and the old contents are then deleted. Elsewhere the old folder is first
/// renamed to `.NAME.old-*` and the new one renamed in; a process killed between
/// those two steps leaves only the old copy, which ``recover(_:)`` renames back.
/// Leftovers of interrupted runs are removed after the next successful swap.
public enum AtomicFolder {
  /// Set to `1` in tests: the process kills itself with SIGKILL between the two
  /// steps of the next swap that replaces an existing folder.
  public static let killInSwapVariable = "TESSERA_TEST_KILL_IN_FOLDER_SWAP"
  /// Set to `1` in tests: swap in two renames even where an atomic exchange exists.
  public static let withoutExchangeVariable = "TESSERA_TEST_FOLDER_SWAP_WITHOUT_EXCHANGE"

  /// The sibling name prefixes of a folder's leftovers.
  public static let leftoverKinds = ["partial", "old", "tmp"]

  /// A fresh staging folder path beside `target` (not yet created).
  public static func stagingURL(for target: URL) -> URL {
    sibling(of: target, kind: "partial")
  }

  /// Moves the complete folder `staging` to `target`, replacing any folder
  /// there; then removes the previous copy and older leftovers of `target`.
  public static func replace(_ target: URL, with staging: URL) throws {
    let fileManager = FileManager.default
    var isFolder: ObjCBool = false
    guard fileManager.fileExists(atPath: target.path, isDirectory: &isFolder) else {
      try move(staging, to: target)
      finish(target)
      return
    }
    guard isFolder.boolValue else {
      throw AtomicFolderError(path: target.path, reason: "is a file, not a folder; refusing to replace it")
    }
    // Whatever the caller checked, never swap away the folder a process works in (or one above it).
    let resolved = target.standardizedFileURL.resolvingSymlinksInPath().path
    let current = URL(fileURLWithPath: fileManager.currentDirectoryPath).standardizedFileURL.resolvingSymlinksInPath().path
    guard resolved != "/", current != resolved, !current.hasPrefix(resolved + "/") else {
      throw AtomicFolderError(path: target.path, reason: "holds the current folder; refusing to replace it")
    }
    let environment = ProcessInfo.processInfo.environment
    if environment[withoutExchangeVariable] != "1", exchange(staging, target) {
      // `staging` now holds the previous contents.
      killIfAsked()
      try? fileManager.removeItem(at: staging)
    } else {
      let old = sibling(of: target, kind: "old")
      try move(target, to: old)
      killIfAsked()
      do { try move(staging, to: target) } catch {
        try? fileManager.moveItem(at: old, to: target)
        throw error
      }
      try? fileManager.removeItem(at: old)
    }
    finish(target)
  }

  /// Brings back the previous copy of `target` when a swap was killed between
  /// its two steps (the folder is missing and a `.NAME.old-*` copy is left).
  /// Returns whether it did; a present target is left alone.
  @discardableResult
  public static func recover(_ target: URL) -> Bool {
    guard !FileManager.default.fileExists(atPath: target.path) else { return false }
    // Only one old copy exists at a time (each swap removes the one it made),
    // but take the newest in case a removal failed.
    let olds = leftovers(of: target, kinds: ["old"]).sorted { modificationDate($0) > modificationDate($1) }
    guard let newest = olds.first, (try? move(newest, to: target)) != nil else { return false }
    return true
  }

  /// The `.NAME.partial-*`, `.NAME.old-*` and `.NAME.tmp-*` siblings of `target`.
  public static func leftovers(of target: URL, kinds: [String] = leftoverKinds) -> [URL] {
    let parent = target.deletingLastPathComponent()
    let names = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
    let prefixes = kinds.map { ".\(target.lastPathComponent).\($0)-" }
    return names.filter { name in prefixes.contains { name.hasPrefix($0) } }.sorted().map {
      parent.appendingPathComponent($0)
    }
  }

  /// Removes every leftover of `target`.
  public static func removeLeftovers(of target: URL) {
    for url in leftovers(of: target) { try? FileManager.default.removeItem(at: url) }
  }

  private static func finish(_ target: URL) {
    syncFolder(target.deletingLastPathComponent().path)
    removeLeftovers(of: target)
  }

  private static func sibling(of target: URL, kind: String) -> URL {
    target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(kind)-\(UUID().uuidString)")
  }

  private static func move(_ source: URL, to destination: URL) throws {
    guard rename(source.path, destination.path) == 0 else {
      throw AtomicFolderError(
        path: destination.path, reason: "cannot move '\(source.path)' here: \(String(cString: strerror(errno)))")
    }
  }

  private static func modificationDate(_ url: URL) -> Date {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
  }

  private static func killIfAsked() {
    if ProcessInfo.processInfo.environment[killInSwapVariable] == "1" { kill(getpid(), SIGKILL) }
  }

  /// Swaps the two paths in one step; false where the system cannot.
  private static func exchange(_ first: URL, _ second: URL) -> Bool {
    #if canImport(Glibc)
      typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
      // Looked up at run time: Swift's Glibc module does not declare it.
      // A nil handle is RTLD_DEFAULT: the symbol from the C library already loaded.
      guard let symbol = dlsym(nil, "renameat2") else { return false }
      let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
      let exchangeFlag: UInt32 = 1 << 1
      return renameat2(AT_FDCWD, first.path, AT_FDCWD, second.path, exchangeFlag) == 0
    #elseif canImport(Darwin)
      return renamex_np(first.path, second.path, UInt32(RENAME_SWAP)) == 0
    #else
      return false
    #endif
  }

  /// Flushes the folder entry so the renames are durable (best effort).
  private static func syncFolder(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = fsync(descriptor)
    _ = close(descriptor)
  }
}

/// A folder that cannot be swapped into place.
public struct AtomicFolderError: LocalizedError, CustomStringConvertible, Equatable {
  public let path: String
  public let reason: String
  public var description: String { "\(path): \(reason)" }
  public var errorDescription: String? { description }
}
