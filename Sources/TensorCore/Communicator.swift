import Foundation

/// The processes of one data-parallel run: each knows its rank among `size`
/// and combines numbers with the others. A single process is the default and
/// costs nothing; ``MPICommunicator`` spans processes started by `mpirun`.
public protocol Communicator: AnyObject {
  var rank: Int { get }
  var size: Int { get }
  /// Replaces `count` floats at `values` by their sum over all processes.
  func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
  /// Copies `count` bytes at `bytes` from process `root` to every other one.
  func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) throws
  /// Returns once every process has called it.
  func barrier() throws
  /// Stops every process of the run, after printing `message` on this one.
  func abort(_ message: String, code: Int32) -> Never
  /// Ends the run's communication; called once, before a clean exit.
  func finish()
}

extension Communicator {
  /// Only the first process writes files and prints progress.
  public var isLeader: Bool { rank == 0 }

  /// The sum over all processes of each of `values`.
  public func allReduceSum(_ values: [Float]) throws -> [Float] {
    var copy = values
    try copy.withUnsafeMutableBufferPointer { buffer in
      if let base = buffer.baseAddress { try allReduceSum(base, count: buffer.count) }
    }
    return copy
  }
}

/// The communicator of a single process: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {}
  public func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) throws {}
  public func barrier() throws {}
  public func abort(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(code)
  }
  public func finish() {}
}

/// A multi-process run that cannot start or go on.
public struct CommunicatorError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// The communicator this process was started with: MPI's when `mpirun`
/// started it (Open MPI sets `OMPI_COMM_WORLD_SIZE`), else a single process.
public enum ProcessGroup {
  nonisolated(unsafe) private static var current: (any Communicator)?

  /// Made on first use and kept for the life of the process (MPI initialises once).
  public static func shared() throws -> any Communicator {
    if let current { return current }
    let made: any Communicator
    if let count = launcherSize, count > 1 {
      made = try MPICommunicator()
    } else {
      made = SingleProcessCommunicator()
    }
    current = made
    return made
  }

  /// The number of processes mpirun started, read from Open MPI's environment; nil outside mpirun.
  public static var launcherSize: Int? {
    ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) }
  }

  /// ``shared()``, saying on the first process how many share the run.
  public static func announced() throws -> any Communicator {
    let group = try shared()
    if group.size > 1, group.isLeader { print("data-parallel over \(group.size) processes (mpirun); rank 0 writes the output") }
    return group
  }

  /// The communicator if one was made, for a clean exit or an abort.
  public static var started: (any Communicator)? { current }
}

extension Communicator {
  /// Runs `body` on the first process alone (checks and writes of an output
  /// folder) and hands its answer to every process. A failure there stops the
  /// run from the first process; the others wait for its answer.
  public func leaderDecides(_ body: () throws -> Bool) throws -> Bool {
    guard size > 1 else { return try body() }
    var answer: UInt8 = isLeader ? (try body() ? 1 : 0) : 0
    try withUnsafeMutableBytes(of: &answer) { try broadcast($0.baseAddress!, count: 1, root: 0) }
    return answer == 1
  }

  /// ``leaderDecides(_:)`` for work with no answer to hand on: the others wait until it is done.
  public func leaderRuns(_ body: () throws -> Void) throws {
    _ = try leaderDecides {
      try body()
      return true
    }
  }
}
