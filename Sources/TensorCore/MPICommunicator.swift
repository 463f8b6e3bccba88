import Foundation

/// Open MPI's C interface, opened with `dlopen` (`libmpi.so.40`, Debian's
/// `libopenmpi3`), so the package neither links nor needs MPI to build. Open
/// MPI's handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, …) are addresses of
/// exported globals, which `dlsym` finds.
public final class MPICommunicator: Communicator {
  private typealias Initialize = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32
  private typealias CommunicatorQuery = @convention(c) (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
  private typealias AllReduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
  private typealias Broadcast = @convention(c) (UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer) -> Int32
  private typealias Barrier = @convention(c) (UnsafeMutableRawPointer) -> Int32
  private typealias Abort = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
  private typealias Finalize = @convention(c) () -> Int32

  public let rank: Int
  public let size: Int
  private let world, float, byte, sum: UnsafeMutableRawPointer
  private let allReduce: AllReduce
  private let broadcastBytes: Broadcast
  private let barrierCall: Barrier
  private let abortCall: Abort
  private let finalize: Finalize
  /// `MPI_IN_PLACE` in Open MPI is the address 1.
  private var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }
  /// MPI counts are 32-bit: larger buffers go in pieces of this many elements.
  static let pieceElements = 1 << 28
  private var finished = false

  public init(libraryPath: String = "libmpi.so.40") throws {
    // Global: Open MPI's plug-ins resolve their symbols against libmpi.
    guard let handle = dlopen(libraryPath, RTLD_NOW | RTLD_GLOBAL) else {
      throw CommunicatorError(
        "mpirun started this process, but \(libraryPath) could not be loaded (\(String(cString: dlerror()))); "
          + "install Open MPI (Debian: apt-get install openmpi-bin libopenmpi3)")
    }
    func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
      guard let found = dlsym(handle, name) else { throw CommunicatorError("\(libraryPath) has no '\(name)': not Open MPI 4 or later?") }
      return found
    }
    world = try symbol("ompi_mpi_comm_world")
    float = try symbol("ompi_mpi_float")
    byte = try symbol("ompi_mpi_byte")
    sum = try symbol("ompi_mpi_op_sum")
    let initialize = unsafeBitCast(try symbol("MPI_Init"), to: Initialize.self)
    let commRank = unsafeBitCast(try symbol("MPI_Comm_rank"), to: CommunicatorQuery.self)
    let commSize = unsafeBitCast(try symbol("MPI_Comm_size"), to: CommunicatorQuery.self)
    allReduce = unsafeBitCast(try symbol("MPI_Allreduce"), to: AllReduce.self)
    broadcastBytes = unsafeBitCast(try symbol("MPI_Bcast"), to: Broadcast.self)
    barrierCall = unsafeBitCast(try symbol("MPI_Barrier"), to: Barrier.self)
    abortCall = unsafeBitCast(try symbol("MPI_Abort"), to: Abort.self)
    finalize = unsafeBitCast(try symbol("MPI_Finalize"), to: Finalize.self)
    guard initialize(nil, nil) == 0 else { throw CommunicatorError("MPI_Init failed") }
    var value: Int32 = 0
    guard commRank(world, &value) == 0 else { throw CommunicatorError("MPI_Comm_rank failed") }
    rank = Int(value)
    guard commSize(world, &value) == 0 else { throw CommunicatorError("MPI_Comm_size failed") }
    size = Int(value)
  }

  public func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
    var done = 0
    while done < count {
      let piece = min(count - done, Self.pieceElements)
      let code = allReduce(inPlace, values + done, Int32(piece), float, sum, world)
      guard code == 0 else { throw CommunicatorError("rank \(rank): MPI_Allreduce failed with code \(code)") }
      done += piece
    }
  }

  public func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) throws {
    var done = 0
    while done < count {
      let piece = min(count - done, Self.pieceElements)
      let code = broadcastBytes(bytes + done, Int32(piece), byte, Int32(root), world)
      guard code == 0 else { throw CommunicatorError("rank \(rank): MPI_Bcast failed with code \(code)") }
      done += piece
    }
  }

  public func barrier() throws {
    let code = barrierCall(world)
    guard code == 0 else { throw CommunicatorError("rank \(rank): MPI_Barrier failed with code \(code)") }
  }

  public func abort(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data(("rank \(rank) of \(size): \(message)\n").utf8))
    _ = abortCall(world, code)
    exit(code)
  }

  public func finish() {
    guard !finished else { return }
    finished = true
    _ = finalize()
  }
}
