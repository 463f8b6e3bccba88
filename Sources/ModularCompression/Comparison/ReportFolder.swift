import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The report folder of a comparison: refused when it holds anything a
/// report does not, and replaced whole, so that a run killed while writing
/// leaves the previous report as it was, never a mix of two runs.
public enum ReportFolder {
  /// What a report folder may hold.
  static var ownEntries: Set<String> {
    [
      ComparisonReport.markdownFileName, ComparisonReport.jsonFileName, ComparisonReport.csvFileName,
      ComparisonReport.plotFileName, ComparisonReport.modelsFolderName,
    ]
  }

  /// Throws ``OutputFolderError`` unless `folder` is missing, empty, or a
  /// report Tessera wrote (`results.json` and only report files).
  public static func checkReplaceable(_ folder: URL) throws {
    let own = ownEntries
    // AtomicFile's temporaries (`.results.json.tmp-…`) of an interrupted write belong to the report too.
    func isOwn(_ name: String) -> Bool { own.contains(name) || own.contains { name.hasPrefix(".\($0).tmp-") } }
    try checkOwned(folder) { entries in
      if let foreign = entries.first(where: { !isOwn($0) }) { return "holds '\(foreign)', which is not part of a Tessera report" }
      return entries.contains(ComparisonReport.jsonFileName)
        ? nil : "has no \(ComparisonReport.jsonFileName), so Tessera did not write it"
    }
  }

  /// The one place outputs are checked before they are replaced: throws
  /// ``OutputFolderError`` when `folder` is a file, the current directory or
  /// one holding it, or a non-empty folder for which `problem` (given its
  /// entries, sorted) gives a reason. A missing or empty folder passes.
  public static func checkOwned(_ folder: URL, problem: ([String]) -> String?) throws {
    let path = folder.standardizedFileURL.path
    let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
    if current == path || current.hasPrefix(path.hasSuffix("/") ? path : path + "/") {
      throw OutputFolderError(folder: path, reason: "is the current directory or holds it")
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
    guard isDirectory.boolValue else { throw OutputFolderError(folder: path, reason: "is a file, not a folder Tessera wrote") }
    let entries: [String]
    do { entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
      throw OutputFolderError(folder: path, reason: "cannot be listed")
    }
    guard !entries.isEmpty else { return }
    if let reason = problem(entries) { throw OutputFolderError(folder: path, reason: reason) }
  }

  /// Runs `write` on a fresh staging folder beside `folder`, then puts the
  /// staging folder in `folder`'s place and removes what it replaced. On an
  /// error nothing at `folder` changes. Leftovers of killed runs beside it are removed.
  static func replace<Result>(_ folder: URL, _ write: (URL) throws -> Result) throws -> Result {
    try checkReplaceable(folder)
    let fileManager = FileManager.default
    let target = folder.standardizedFileURL
    let parent = target.deletingLastPathComponent(), name = target.lastPathComponent
    do { try fileManager.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
      throw OutputFolderError(folder: parent.path, reason: "cannot be created")
    }
    let staging = parent.appendingPathComponent(".\(name).partial-\(getpid())-\(UUID().uuidString)")
    do { try fileManager.createDirectory(at: staging, withIntermediateDirectories: false) } catch {
      throw OutputFolderError(folder: parent.path, reason: "is not writable (a staging folder cannot be created in it)")
    }
    var isSwapped = false
    defer { if !isSwapped { try? fileManager.removeItem(at: staging) } }
    let result = try write(staging)
    let old = parent.appendingPathComponent(".\(name).old-\(getpid())-\(UUID().uuidString)")
    try swap(staging, into: target, keepingOldAt: old)
    isSwapped = true
    try? fileManager.removeItem(at: old)
    removeLeftovers(of: name, in: parent)
    return result
  }

  /// Moves `staging` to `target`. An existing `target` is exchanged with it in
  /// one step where the system can (Linux `renameat2`), so `target` is never
  /// missing; elsewhere it is moved to `old` first. Either way the previous
  /// folder ends at `old`.
  static func swap(_ staging: URL, into target: URL, keepingOldAt old: URL) throws {
    guard FileManager.default.fileExists(atPath: target.path) else {
      guard rename(staging.path, target.path) == 0 else { throw failure(target, "cannot be created", errno) }
      return
    }
    if exchange(staging.path, target.path) {
      guard rename(staging.path, old.path) == 0 else { return }  // the old report stays as the staging name; cleaned later
      return
    }
    guard rename(target.path, old.path) == 0 else { throw failure(target, "cannot be moved aside", errno) }
    guard rename(staging.path, target.path) == 0 else {
      let code = errno
      _ = rename(old.path, target.path)
      throw failure(target, "cannot be replaced", code)
    }
  }

  static func failure(_ folder: URL, _ what: String, _ code: Int32) -> OutputFolderError {
    OutputFolderError(folder: folder.path, reason: "\(what) (\(String(cString: strerror(code))))")
  }

  /// Swaps two paths atomically; false where the system cannot.
  static func exchange(_ a: String, _ b: String) -> Bool {
    #if os(Linux)
      typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
      let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
      let atCurrentDirectory: Int32 = -100, renameExchange: UInt32 = 2
      return renameat2(atCurrentDirectory, a, atCurrentDirectory, b, renameExchange) == 0
    #else
      return false
    #endif
  }

  /// Removes `.NAME.partial-PID-…` and `.NAME.old-PID-…` beside the report
  /// whose process is gone (a live run's staging folder is left alone).
  static func removeLeftovers(of name: String, in parent: URL) {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else { return }
    for entry in entries {
      for prefix in [".\(name).partial-", ".\(name).old-"] where entry.hasPrefix(prefix) {
        let pid = entry.dropFirst(prefix.count).prefix { $0.isNumber }
        guard let owner = Int32(pid), owner == getpid() || (kill(owner, 0) != 0 && errno == ESRCH) else { continue }
        try? FileManager.default.removeItem(at: parent.appendingPathComponent(entry))
      }
    }
  }
}

/// A report folder that cannot be written or replaced.
public struct OutputFolderError: Error, LocalizedError, CustomStringConvertible, Equatable {
  public var folder: String
  public var reason: String

  public var description: String { "output folder \(folder) \(reason); give a new or empty folder, or one this command wrote before" }
  public var errorDescription: String? { description }
}
