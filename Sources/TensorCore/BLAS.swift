/// Single-precision matrix multiply, row-major:
/// `C[m×n] = alpha · op(A) · op(B) + beta · C`, where `op(A)` is `m×k`
/// (`A` stored `k×m` when `transposeA`) and `op(B)` is `k×n`.
///
/// PLACEHOLDER: a naive loop until the run-time BLAS binding and the packed
/// fallback land (owned by the BLAS work; see issue "Foundation").
public enum BLAS {
  public static func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    for i in 0..<m {
      for j in 0..<n {
        var sum: Float = 0
        for p in 0..<k {
          let av = transposeA ? a[p * lda + i] : a[i * lda + p]
          let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
          sum += av * bv
        }
        c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
      }
    }
  }

  public static func setThreadCount(_ threads: Int) {}
}
