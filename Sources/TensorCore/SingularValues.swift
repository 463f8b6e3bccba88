import Foundation

/// The thin singular value decomposition `A = U · diag(S) · Vᵀ` of a matrix
/// `[m, n]`: `u` `[m, k]`, `s` `[k]` (descending, ≥ 0), `vt` `[k, n]`, k = min(m, n).
///
/// LAPACK's `sgesdd` from the BLAS library when it carries it (OpenBLAS
/// does), else a one-sided Jacobi SVD in double precision written here; both
/// give the same factors to float rounding, up to the sign of each singular
/// pair (and the basis of repeated singular values). Signs are normalised so
/// that each column of `u` has a non-negative sum.
public struct SingularValueDecomposition: Sendable {
  public let u: Tensor
  public let s: [Float]
  public let vt: Tensor

  /// Which implementation ran.
  public enum Method: String, Sendable { case lapack, jacobi }

  /// Decomposes `matrix` (rank 2, finite values).
  public init(_ matrix: Tensor, method: Method? = nil) throws {
    precondition(matrix.rank == 2, "SVD of a matrix, got shape \(matrix.shape)")
    if let bad = matrix.scalars.firstIndex(where: { !$0.isFinite }) {
      throw SingularValueError.nonFinite(index: bad)
    }
    let useLAPACK = method.map { $0 == .lapack } ?? (BLAS.library?.sgesdd != nil)
    let (u, s, vt) = try useLAPACK ? Self.lapack(matrix) : Self.jacobi(matrix)
    (self.u, self.s, self.vt) = Self.normalisedSigns(u: u, s: s, vt: vt)
  }

  /// Whether LAPACK is available to ``init(_:method:)``.
  public static var hasLAPACK: Bool { BLAS.library?.sgesdd != nil }

  /// The best rank-`rank` factors: `u·diag(s)` `[m, r]` and `vt` `[r, n]`.
  public func truncated(rank: Int) -> (left: Tensor, right: Tensor) {
    let (m, n, r) = (u.shape[0], vt.shape[1], Swift.min(rank, s.count))
    let uValues = u.scalars, vValues = vt.scalars, k = s.count
    var left = [Float](repeating: 0, count: m * r)
    for i in 0..<m { for j in 0..<r { left[i * r + j] = uValues[i * k + j] * s[j] } }
    return (Tensor(left, shape: [m, r]), Tensor(Array(vValues[0..<(r * n)]), shape: [r, n]))
  }

  private static func lapack(_ matrix: Tensor) throws -> (Tensor, [Float], Tensor) {
    guard let sgesdd = BLAS.library?.sgesdd else { throw SingularValueError.noLAPACK }
    let (m, n) = (matrix.shape[0], matrix.shape[1]), k = Swift.min(m, n)
    guard m > 0, n > 0 else { return (Tensor.zeros([m, k]), [], Tensor.zeros([k, n])) }
    // Row-major A [m, n] is column-major Aᵀ [n, m]; sgesdd gives Aᵀ = U' S V'ᵀ, so
    // A's U is V'ᵀ's memory read row-major [m, k], and A's Vᵀ is U''s memory as [k, n].
    var a = matrix.scalars
    var s = [Float](repeating: 0, count: k), left = [Float](repeating: 0, count: n * k), right = [Float](repeating: 0, count: k * m)
    var (rows, columns, lda, ldu, ldvt) = (Int32(n), Int32(m), Int32(n), Int32(n), Int32(k))
    var iwork = [Int32](repeating: 0, count: 8 * k)
    var info: Int32 = 0, query: Float = 0, lwork: Int32 = -1
    let job: [CChar] = [CChar(UInt8(ascii: "S")), 0]
    sgesdd(job, &rows, &columns, &a, &lda, &s, &left, &ldu, &right, &ldvt, &query, &lwork, &iwork, &info)
    guard info == 0 else { throw SingularValueError.lapack(info: info) }
    lwork = Int32(query.rounded(.up))
    var work = [Float](repeating: 0, count: Int(lwork))
    sgesdd(job, &rows, &columns, &a, &lda, &s, &left, &ldu, &right, &ldvt, &work, &lwork, &iwork, &info)
    guard info == 0 else { throw SingularValueError.lapack(info: info) }
    return (Tensor(right, shape: [m, k]), s, Tensor(left, shape: [k, n]))
  }

  /// One-sided Jacobi on the columns of A (or of Aᵀ when it is wider than tall), in doubles.
  private static func jacobi(_ matrix: Tensor) throws -> (Tensor, [Float], Tensor) {
    let (m, n) = (matrix.shape[0], matrix.shape[1])
    let transposed = n > m
    let (rows, columns) = transposed ? (n, m) : (m, n)
    let values = matrix.scalars
    // Columns of the working matrix, each contiguous.
    var a = [[Double]](repeating: [Double](repeating: 0, count: rows), count: columns)
    for i in 0..<m { for j in 0..<n { if transposed { a[i][j] = Double(values[i * n + j]) } else { a[j][i] = Double(values[i * n + j]) } } }
    var v = (0..<columns).map { j in (0..<columns).map { $0 == j ? 1.0 : 0.0 } }
    for _ in 0..<60 {
      var rotated = false
      for p in 0..<columns {
        for q in (p + 1)..<columns {
          var (alpha, beta, gamma) = (0.0, 0.0, 0.0)
          for i in 0..<rows { alpha += a[p][i] * a[p][i]; beta += a[q][i] * a[q][i]; gamma += a[p][i] * a[q][i] }
          guard abs(gamma) > 1e-15 * (alpha * beta).squareRoot(), gamma != 0 else { continue }
          rotated = true
          let zeta = (beta - alpha) / (2 * gamma)
          let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
          let c = 1 / (1 + t * t).squareRoot(), s = c * t
          for i in 0..<rows {
            let (x, y) = (a[p][i], a[q][i])
            (a[p][i], a[q][i]) = (c * x - s * y, s * x + c * y)
          }
          for i in 0..<columns {
            let (x, y) = (v[p][i], v[q][i])
            (v[p][i], v[q][i]) = (c * x - s * y, s * x + c * y)
          }
        }
      }
      if !rotated { break }
    }
    let norms = a.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    let order = (0..<columns).sorted { norms[$0] > norms[$1] }
    let k = columns
    // Working matrix W = A (or Aᵀ) = L · diag(σ) · Vᵀ with L's columns a[j] / σ_j.
    var left = [Float](repeating: 0, count: rows * k), right = [Float](repeating: 0, count: k * columns)
    for (rank, j) in order.enumerated() {
      let sigma = norms[j]
      for i in 0..<rows { left[i * k + rank] = sigma > 0 ? Float(a[j][i] / sigma) : 0 }
      for i in 0..<columns { right[rank * columns + i] = Float(v[j][i]) }
    }
    let s = order.map { Float(norms[$0]) }
    if transposed {
      // Aᵀ = L Σ Vᵀ, so A = V Σ Lᵀ: U = V ([m, k] rows from `right`'s columns), Vᵀ = Lᵀ.
      let u = Tensor(right, shape: [k, columns]).transposed2D(), vt = Tensor(left, shape: [rows, k]).transposed2D()
      return (u, s, vt)
    }
    return (Tensor(left, shape: [rows, k]), s, Tensor(right, shape: [k, columns]))
  }

  private static func normalisedSigns(u: Tensor, s: [Float], vt: Tensor) -> (Tensor, [Float], Tensor) {
    let (m, k, n) = (u.shape[0], u.shape[1], vt.shape[1])
    var uValues = u.scalars, vValues = vt.scalars
    for j in 0..<k {
      var sum: Float = 0
      for i in 0..<m { sum += uValues[i * k + j] }
      guard sum < 0 else { continue }
      for i in 0..<m { uValues[i * k + j] = -uValues[i * k + j] }
      for i in 0..<n { vValues[j * n + i] = -vValues[j * n + i] }
    }
    return (Tensor(uValues, shape: [m, k]), s, Tensor(vValues, shape: [k, n]))
  }
}

/// A matrix the SVD cannot decompose.
public enum SingularValueError: Error, CustomStringConvertible, Equatable {
  case nonFinite(index: Int)
  case noLAPACK
  case lapack(info: Int32)

  public var description: String {
    switch self {
    case .nonFinite(let index): "SVD: element \(index) of the matrix is not a finite number"
    case .noLAPACK: "SVD: the BLAS library in use carries no LAPACK (sgesdd)"
    case .lapack(let info): "SVD: LAPACK sgesdd failed (info \(info))"
    }
  }
}

extension Tensor {
  /// A `[r, c]` matrix as `[c, r]` (a copy).
  public func transposed2D() -> Tensor {
    let (r, c) = (shape[0], shape[1]), values = scalars
    var out = [Float](repeating: 0, count: r * c)
    for i in 0..<r { for j in 0..<c { out[j * r + i] = values[i * c + j] } }
    return Tensor(out, shape: [c, r])
  }
}
