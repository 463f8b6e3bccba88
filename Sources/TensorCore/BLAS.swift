#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Single-precision matrix multiply through a BLAS library loaded at run time
/// (`dlopen`, nothing needed at build time), or the pure-Swift fallback.
///
/// `TESSERA_BLAS=auto|openblas|none` picks the backend (see ``BLASChoice``);
/// `TESSERA_THREADS` (see ``ThreadCount``) sets the library's thread count.
/// The library is opened once, on first use.
public enum BLAS {
  /// The backend chosen for this process (opened on first access).
  static let backend: BLASBackend = {
    let value = BLASChoice.environmentValue
    let backend = BLASBackend.resolve(environmentValue: value, open: BLASLibrary.open)
    for warning in backend.warnings { printToStandardError("tessera: " + warning) }
    backend.library?.setThreadCount(ThreadCount.current)
    return backend
  }()

  /// The backend in use, e.g. `"openblas (libopenblas.so.0)"` or `"fallback"`.
  public static var backendName: String { backend.name }

  /// The loaded library, or nil when the pure-Swift fallback runs every GEMM.
  /// Benchmarks call its ``BLASLibrary/sgemm`` pointer directly.
  public static var library: BLASLibrary? { backend.library }

  /// `C[m×n] = alpha · op(A) · op(B) + beta · C`, all row-major, where `op(A)`
  /// is `m×k` (`A` is stored `k×m` when `transposeA`) and `op(B)` is `k×n`
  /// (`B` stored `n×k` when `transposeB`). `lda`, `ldb`, `ldc` are the row
  /// strides of the stored matrices. When `beta == 0`, `C` is only written, so
  /// it may hold garbage (even NaN).
  public static func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    sgemm(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c, ldc: ldc, threads: ThreadCount.current)
  }

  /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` on at
  /// most `threads` threads for the pure-Swift fallback (the library's count is
  /// set with ``withSingleThreadedLibrary(_:)``).
  static func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
  ) {
    assert(m >= 0 && n >= 0 && k >= 0, "negative GEMM size \(m)×\(n)×\(k)")
    guard m > 0, n > 0 else { return }
    assert(
      lda >= (transposeA ? m : k) && ldb >= (transposeB ? k : n) && ldc >= n,
      "GEMM leading dimension too small: lda \(lda), ldb \(ldb), ldc \(ldc) for \(m)×\(n)×\(k)")
    if k == 0 {
      // Libraries reject lda = 0 here, and there is nothing to multiply.
      FallbackGEMM.scale(c, rows: m, columns: n, ldc: ldc, by: beta)
      return
    }
    if let library = backend.library, library.accepts(m, n, k, lda, ldb, ldc) {
      library.multiply(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
        a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    } else {
      FallbackGEMM.sgemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
        a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
    }
  }

  /// Runs `body` with the library on one thread, for callers that run several
  /// small products side by side on their own threads; restores
  /// ``ThreadCount/current`` afterwards. Call it from one thread at a time.
  static func withSingleThreadedLibrary<R>(_ body: () -> R) -> R {
    backend.library?.setThreadCount(1)
    defer { backend.library?.setThreadCount(ThreadCount.current) }
    return body()
  }

  /// The pure-Swift GEMM alone, whatever the backend (tests, benchmarks).
  /// Same contract as ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``;
  /// it uses up to `threads` threads on large problems.
  public static func fallbackSgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
    threads: Int = ThreadCount.current
  ) {
    FallbackGEMM.sgemm(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
      a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
  }

  /// Tells the library how many threads to use (OpenBLAS only; others keep
  /// their own setting). Called by ``ThreadCount/set(_:)``.
  public static func setThreadCount(_ threads: Int) {
    backend.library?.setThreadCount(threads)
  }

  /// Checks `TESSERA_BLAS` and that the library it asks for opens, so a command
  /// can stop with a clear message instead of running on a fallback.
  public static func checkConfiguration() throws {
    let choice = try BLASChoice(environmentValue: BLASChoice.environmentValue)
    if choice == .openblas, library == nil {
      throw BLASConfigurationError.libraryNotFound(choice: choice, tried: choice.candidates.map(\.path))
    }
  }
}

/// The backend of one process: the opened library (if any), its display name,
/// and what went wrong on the way (printed once to standard error).
struct BLASBackend: Sendable {
  let library: BLASLibrary?
  let warnings: [String]

  var name: String { library?.name ?? "fallback" }

  /// Picks the backend for a `TESSERA_BLAS` value, trying each candidate
  /// library with `open` (injected so tests need no real library).
  static func resolve(environmentValue: String?, open: (BLASCandidate) -> BLASLibrary?) -> BLASBackend {
    var warnings: [String] = []
    let choice: BLASChoice
    do {
      choice = try BLASChoice(environmentValue: environmentValue)
    } catch {
      warnings.append("\(error); using auto")
      choice = .auto
    }
    for candidate in choice.candidates {
      if let library = open(candidate) { return BLASBackend(library: library, warnings: warnings) }
    }
    if choice == .openblas {
      let tried = choice.candidates.map(\.path).joined(separator: ", ")
      warnings.append("TESSERA_BLAS=openblas but no OpenBLAS library opened (tried \(tried)); using the Swift fallback")
    }
    return BLASBackend(library: nil, warnings: warnings)
  }
}

/// Writes one line to standard error (BLAS warnings must not mix into
/// standard output, which commands may pipe).
func printToStandardError(_ line: String) {
  var text = line + "\n"
  text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
