#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The C type of `cblas_sgemm` (LP64 CBLAS: every integer argument is a C `int`).
public typealias CBLASSgemm = @convention(c) (
  _ order: Int32, _ transA: Int32, _ transB: Int32, _ m: Int32, _ n: Int32, _ k: Int32,
  _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int32,
  _ b: UnsafePointer<Float>?, _ ldb: Int32,
  _ beta: Float, _ c: UnsafeMutablePointer<Float>?, _ ldc: Int32
) -> Void

/// The C type of `cblas_sgemv`.
public typealias CBLASSgemv = @convention(c) (
  _ order: Int32, _ trans: Int32, _ m: Int32, _ n: Int32, _ alpha: Float, _ a: UnsafePointer<Float>?, _ lda: Int32,
  _ x: UnsafePointer<Float>?, _ incx: Int32, _ beta: Float, _ y: UnsafeMutablePointer<Float>?, _ incy: Int32
) -> Void

/// A CBLAS library opened with `dlopen`; it stays open for the life of the process.
public struct BLASLibrary: @unchecked Sendable {
  /// CBLAS enum values (`cblas.h`).
  public static let rowMajor: Int32 = 101
  public static let noTranspose: Int32 = 111
  public static let transpose: Int32 = 112

  /// For display: `"openblas (libopenblas.so.0)"`.
  public let name: String
  /// `cblas_sgemm` itself: calling it directly is the benchmark baseline.
  public let sgemm: CBLASSgemm
  /// `cblas_sgemv`, used for single-row products: GEMM would pack the whole
  /// weight matrix for one row (the decoding case), GEMV streams it once.
  let sgemv: CBLASSgemv?
  let setNumThreads: (@convention(c) (Int32) -> Void)?

  /// Opens `candidate.path` and looks up `cblas_sgemm` (and
  /// `openblas_set_num_threads` when present); nil when either fails.
  public static func open(_ candidate: BLASCandidate) -> BLASLibrary? {
    guard let handle = dlopen(candidate.path, RTLD_NOW | RTLD_LOCAL) else { return nil }
    guard let symbol = dlsym(handle, "cblas_sgemm") else {
      dlclose(handle)
      return nil
    }
    let threads = dlsym(handle, "openblas_set_num_threads").map {
      unsafeBitCast($0, to: (@convention(c) (Int32) -> Void).self)
    }
    let file = candidate.path.split(separator: "/").last.map(String.init) ?? candidate.path
    return BLASLibrary(
      name: "\(candidate.label) (\(file))", sgemm: unsafeBitCast(symbol, to: CBLASSgemm.self),
      sgemv: dlsym(handle, "cblas_sgemv").map { unsafeBitCast($0, to: CBLASSgemv.self) }, setNumThreads: threads)
  }

  /// Whether the library can set its thread count (OpenBLAS can).
  public var canSetThreadCount: Bool { setNumThreads != nil }

  /// Sets the library's thread count when it has a way to.
  public func setThreadCount(_ threads: Int) {
    setNumThreads?(Int32(clamping: Swift.max(1, threads)))
  }

  /// Whether every size fits a C `int`.
  func accepts(_ sizes: Int...) -> Bool { sizes.allSatisfy { $0 <= Int(Int32.max) } }

  /// Row-major `cblas_sgemm`.
  func multiply(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 1, let sgemv {
      // c[1×n] = a[1×k] · op(B): a GEMV over B, with a's elements lda apart when stored as a column.
      if beta == 0 { c.update(repeating: 0, count: n) }  // C may hold NaN garbage
      sgemv(
        BLASLibrary.rowMajor, transposeB ? BLASLibrary.noTranspose : BLASLibrary.transpose,
        Int32(transposeB ? n : k), Int32(transposeB ? k : n), alpha, b, Int32(ldb),
        a, Int32(transposeA ? lda : 1), beta, c, 1)
      return
    }
    sgemm(
      BLASLibrary.rowMajor, transposeA ? BLASLibrary.transpose : BLASLibrary.noTranspose,
      transposeB ? BLASLibrary.transpose : BLASLibrary.noTranspose,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}
