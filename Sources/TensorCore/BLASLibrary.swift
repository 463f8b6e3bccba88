import Foundation

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

/// The C type of LAPACK's `sgesdd_` (Fortran calling convention: every argument by pointer, column-major).
public typealias LAPACKSgesdd = @convention(c) (
  _ jobz: UnsafePointer<CChar>?, _ m: UnsafePointer<Int32>?, _ n: UnsafePointer<Int32>?, _ a: UnsafeMutablePointer<Float>?,
  _ lda: UnsafePointer<Int32>?, _ s: UnsafeMutablePointer<Float>?, _ u: UnsafeMutablePointer<Float>?,
  _ ldu: UnsafePointer<Int32>?, _ vt: UnsafeMutablePointer<Float>?, _ ldvt: UnsafePointer<Int32>?,
  _ work: UnsafeMutablePointer<Float>?, _ lwork: UnsafePointer<Int32>?, _ iwork: UnsafeMutablePointer<Int32>?,
  _ info: UnsafeMutablePointer<Int32>?
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
  /// LAPACK's divide-and-conquer SVD, when the library carries LAPACK (OpenBLAS does).
  let sgesdd: LAPACKSgesdd?

  /// Opens `candidate.path` and looks up `cblas_sgemm` (and
  /// `openblas_set_num_threads` when present); nil when either fails.
  public static func open(_ candidate: BLASCandidate) -> BLASLibrary? {
    _ = OpenBLASCoreType.preferenceApplied
    guard let handle = dlopen(candidate.path, RTLD_NOW | RTLD_LOCAL) else { return nil }
    guard let symbol = dlsym(handle, "cblas_sgemm") else {
      dlclose(handle)
      return nil
    }
    let threads = dlsym(handle, "openblas_set_num_threads").map {
      unsafeBitCast($0, to: (@convention(c) (Int32) -> Void).self)
    }
    var details = [candidate.path.split(separator: "/").last.map(String.init) ?? candidate.path]
    if let coreName = dlsym(handle, "openblas_get_corename") {
      let function = unsafeBitCast(coreName, to: (@convention(c) () -> UnsafePointer<CChar>?).self)
      if let text = function() { details.append("core " + String(cString: text)) }
    }
    return BLASLibrary(
      name: "\(candidate.label) (\(details.joined(separator: ", ")))",
      sgemm: unsafeBitCast(symbol, to: CBLASSgemm.self),
      sgemv: dlsym(handle, "cblas_sgemv").map { unsafeBitCast($0, to: CBLASSgemv.self) }, setNumThreads: threads,
      sgesdd: dlsym(handle, "sgesdd_").map { unsafeBitCast($0, to: LAPACKSgesdd.self) })
  }

  /// Whether the library can set its thread count (OpenBLAS can).
  var canSetThreadCount: Bool { setNumThreads != nil }

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

/// Picks OpenBLAS's AVX-512 kernels where its own detection would not.
///
/// OpenBLAS 0.3.21 (Debian 12) knows neither Intel's Sapphire Rapids nor AMD's
/// Zen 4 and falls back to its Haswell (AVX2) kernels. Measured with `tessera
/// bench gemm`, its SkylakeX kernels are ~1.6–1.9× faster on both: ~55–70
/// against ~105 GFLOP/s on one Sapphire Rapids core; on a 2-core AMD EPYC (Zen 4)
/// 200–220 against 350–410 GFLOP/s (M·K·N 1024·512·2048 to 1024·768·50265, 2
/// threads), 185 against 207 at 64·256·256. On a CPU with the AVX-512 subsets
/// those kernels use (F, DQ, BW, VL), and only when `OPENBLAS_CORETYPE` is
/// unset, it is set to `SkylakeX` before the library is opened (OpenBLAS reads
/// it once, when loaded). Any value the user sets wins.
enum OpenBLASCoreType {
  static let preferenceApplied: Bool = {
    #if os(Linux) && arch(x86_64)
      guard getenv("OPENBLAS_CORETYPE") == nil, prefersSkylakeX(cpuInfo()) else { return false }
      return setenv("OPENBLAS_CORETYPE", "SkylakeX", 0) == 0
    #else
      return false
    #endif
  }()

  /// Whether `/proc/cpuinfo` fields (`vendor_id`, `flags`) describe an Intel
  /// or AMD CPU that can run OpenBLAS's SkylakeX kernels.
  static func prefersSkylakeX(_ fields: [String: String]) -> Bool {
    guard ["GenuineIntel", "AuthenticAMD"].contains(fields["vendor_id"]), let flags = fields["flags"] else { return false }
    let present = Set(flags.split(separator: " "))
    return ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { present.contains(Substring($0)) }
  }

  /// `vendor_id` and `flags` of the first processor in `/proc/cpuinfo`.
  private static func cpuInfo() -> [String: String] {
    guard let file = fopen("/proc/cpuinfo", "r") else { return [:] }
    defer { fclose(file) }
    var buffer: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(buffer) }
    var fields: [String: String] = [:]
    while fields.count < 2, getline(&buffer, &capacity, file) > 0, let buffer {
      let parts = String(cString: buffer).split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let key = parts[0].trimmingCharacters(in: .whitespaces)
      if key == "vendor_id" || key == "flags" {
        fields[key] = parts[1].trimmingCharacters(in: .whitespacesAndNewlines)
      }
    }
    return fields
  }
}
