import TensorKernels

/// The pure-Swift single-precision GEMM used when no BLAS library loads
/// (`TESSERA_BLAS=none`, or none installed). Same contract as ``BLAS/sgemm``.
///
/// Layout (GotoBLAS style, tuned for a generic x86-64 build, i.e. SSE2 with no
/// FMA): `op(B)` is packed per `kc × nc` block into strips of `nr` columns; for
/// every `mr` rows `op(A)` is packed into a small panel that stays in L1 while
/// the micro-kernel sweeps the B strips streaming from L2. Each element of the
/// A panel is stored four times (pre-broadcast), because a broadcast costs a
/// shuffle per use in SSE2 and the shuffle port is also an adder port; with the
/// copies, every multiply reads its operand with a plain load (measured ~30
/// GFLOP/s in-cache, against ~25 with broadcasting in the loop).
enum FallbackGEMM {
  /// Rows of `C` per micro-tile: 6 × 2 accumulator registers of 4 lanes, plus
  /// B and temporaries, fill the 16 SSE registers without spilling.
  static let mr = 6
  /// Columns of `C` per micro-tile (one `SIMD8`).
  static let nr = 8
  /// Depth of one packed block: the 24 KiB pre-broadcast A panel fits L1.
  static let kc = 256
  /// Columns per packed B block: `kc × nc` floats (1 MiB) fits L2.
  static let nc = 1024
  /// Below this many multiply-adds, a second thread costs more than it saves.
  static let parallelThreshold = 1 << 21

  static func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
    threads: Int = ThreadCount.current, parallelThreshold: Int = FallbackGEMM.parallelThreshold
  ) {
    guard m > 0, n > 0 else { return }
    if k == 0 || alpha == 0 {
      scale(c, rows: m, columns: n, ldc: ldc, by: beta)
      return
    }
    if m == 1 && !transposeA {
      // A single row (one decoding step): packing would pad it to `mr` rows.
      rowTimesMatrix(
        transposeB: transposeB, n: n, k: k, alpha: alpha, a: a, b: b, ldb: ldb, beta: beta, c: c)
      return
    }
    let operands = Operands(
      transposeA: transposeA, transposeB: transposeB, alpha: alpha, a: a, lda: lda,
      b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    // Split the larger side of C into one contiguous part per thread; each
    // part is an independent GEMM with its own packing buffers.
    let splitRows = m >= n
    let tile = splitRows ? mr : nr
    let tiles = ((splitRows ? m : n) + tile - 1) / tile
    let parts = m * n * k < parallelThreshold ? 1 : Swift.max(1, Swift.min(threads, tiles))
    if parts == 1 {
      operands.serial(rows: 0..<m, columns: 0..<n, k: k)
      return
    }
    let tilesPerPart = (tiles + parts - 1) / parts
    runOnWorkers(parts) { part in
      let start = part * tilesPerPart * tile
      let end = Swift.min((part + 1) * tilesPerPart * tile, splitRows ? m : n)
      guard start < end else { return }
      if splitRows {
        operands.serial(rows: start..<end, columns: 0..<n, k: k)
      } else {
        operands.serial(rows: 0..<m, columns: start..<end, k: k)
      }
    }
  }

  /// `c[1×n] = alpha · a[1×k] · op(B) + beta · c`, streaming B once.
  private static func rowTimesMatrix(
    transposeB: Bool, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>
  ) {
    if transposeB {
      // Each output is a dot product with a contiguous row of B.
      for j in 0..<n {
        let value = alpha * FastMath.dot(a, b + j * ldb, count: k)
        c[j] = beta == 0 ? value : value + beta * c[j]
      }
      return
    }
    scale(c, rows: 1, columns: n, ldc: n, by: beta)
    for p in 0..<k {
      let factor = alpha * a[p], row = b + p * ldb
      for j in 0..<n { c[j] = factor * row[j] + c[j] }
    }
  }

  /// `C ← beta · C`; `beta == 0` writes zeros without reading (C may hold NaN).
  static func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by beta: Float) {
    guard beta != 1 else { return }
    for i in 0..<rows {
      let row = c + i * ldc
      if beta == 0 {
        row.update(repeating: 0, count: columns)
      } else {
        for j in 0..<columns { row[j] *= beta }
      }
    }
  }
}

/// The arguments of one GEMM call; pointers are only read (A, B) or written in
/// disjoint parts (C), so threads may share it.
private struct Operands: @unchecked Sendable {
  let transposeA: Bool, transposeB: Bool
  let alpha: Float
  let a: UnsafePointer<Float>, lda: Int
  let b: UnsafePointer<Float>, ldb: Int
  let beta: Float
  let c: UnsafeMutablePointer<Float>, ldc: Int

  /// `C[rows, columns] = alpha · op(A)[rows, :] · op(B)[:, columns] + beta · C[rows, columns]`.
  func serial(rows: Range<Int>, columns: Range<Int>, k: Int) {
    let mr = FallbackGEMM.mr, nr = FallbackGEMM.nr, kc = FallbackGEMM.kc
    let blockColumns = Swift.min(FallbackGEMM.nc, columns.count)
    let strips = (blockColumns + nr - 1) / nr
    let packedB = UnsafeMutablePointer<Float>.allocateAligned(kc * strips * nr)
    let packedA = UnsafeMutablePointer<Float>.allocateAligned(kc * mr * 4)
    defer {
      packedB.deallocateAligned()
      packedA.deallocateAligned()
    }
    for jc in stride(from: columns.lowerBound, to: columns.upperBound, by: blockColumns) {
      let width = Swift.min(blockColumns, columns.upperBound - jc)
      for pc in stride(from: 0, to: k, by: kc) {
        let depth = Swift.min(kc, k - pc)
        // Later depth blocks add onto what the first one stored.
        let blockBeta: Float = pc == 0 ? beta : 1
        packB(into: packedB, depth: pc..<(pc + depth), columns: jc..<(jc + width))
        for ic in stride(from: rows.lowerBound, to: rows.upperBound, by: mr) {
          let height = Swift.min(mr, rows.upperBound - ic)
          packA(into: packedA, rows: ic..<(ic + height), depth: pc..<(pc + depth))
          for jr in stride(from: 0, to: width, by: nr) {
            fallbackMicroKernel(
              depth: depth, a: packedA, b: packedB + jr * depth,
              c: c + ic * ldc + jc + jr, ldc: ldc, alpha: alpha, beta: blockBeta,
              rows: height, columns: Swift.min(nr, width - jr))
          }
        }
      }
    }
  }

  /// Packs `op(B)[depth, columns]` as strips of `nr` columns, each
  /// `depth.count × nr` row-major, zero-padded past the last column.
  private func packB(into out: UnsafeMutablePointer<Float>, depth: Range<Int>, columns: Range<Int>) {
    let nr = FallbackGEMM.nr
    let kLen = depth.count
    for (strip, j0) in stride(from: columns.lowerBound, to: columns.upperBound, by: nr).enumerated() {
      let width = Swift.min(nr, columns.upperBound - j0)
      let dst = out + strip * kLen * nr
      if transposeB {
        // op(B)[p, j] = b[j, p]: each column of the strip is a contiguous run.
        for jj in 0..<width {
          let src = b + (j0 + jj) * ldb + depth.lowerBound
          for p in 0..<kLen { dst[p * nr + jj] = src[p] }
        }
        if width < nr {
          for p in 0..<kLen { (dst + p * nr + width).update(repeating: 0, count: nr - width) }
        }
      } else if width == nr {
        for p in 0..<kLen {
          let src = UnsafeRawPointer(b + (depth.lowerBound + p) * ldb + j0)
          UnsafeMutableRawPointer(dst + p * nr).storeBytes(
            of: src.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        }
      } else {
        for p in 0..<kLen {
          let src = b + (depth.lowerBound + p) * ldb + j0
          for jj in 0..<nr { dst[p * nr + jj] = jj < width ? src[jj] : 0 }
        }
      }
    }
  }

  /// Packs `op(A)[rows, depth]` as `depth.count × mr` groups of four equal
  /// floats (one pre-broadcast SSE register per element), zero past the last row.
  private func packA(into out: UnsafeMutablePointer<Float>, rows: Range<Int>, depth: Range<Int>) {
    let mr = FallbackGEMM.mr
    let raw = UnsafeMutableRawPointer(out)
    for p in 0..<depth.count {
      let pp = depth.lowerBound + p
      for r in 0..<mr {
        var value: Float = 0
        if r < rows.count {
          let i = rows.lowerBound + r
          value = transposeA ? a[pp * lda + i] : a[i * lda + pp]
        }
        raw.storeBytes(of: SIMD4(repeating: value), toByteOffset: (p * mr + r) * 16, as: SIMD4<Float>.self)
      }
    }
  }
}

/// One `mr × nr` tile of C from packed panels: `C = alpha · A·B + beta · C`
/// (`beta == 0` never reads C). Written as plain `a * b + c`: a generic build
/// has no FMA, and `addingProduct` would become a call to `fmaf` per lane.
/// Kept out of line so its 12 accumulators own the register file.
@inline(never)
private func fallbackMicroKernel(
  depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
  c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float, rows: Int, columns: Int
) {
  var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>()
  var c3 = SIMD8<Float>(), c4 = SIMD8<Float>(), c5 = SIMD8<Float>()
  var pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
  @inline(__always) func broadcast(_ offset: Int) -> SIMD8<Float> {
    let quad = pa.load(fromByteOffset: offset, as: SIMD4<Float>.self)
    return SIMD8(lowHalf: quad, highHalf: quad)
  }
  for _ in 0..<depth {
    let bv = pb.load(as: SIMD8<Float>.self)
    c0 = broadcast(0) * bv + c0
    c1 = broadcast(16) * bv + c1
    c2 = broadcast(32) * bv + c2
    c3 = broadcast(48) * bv + c3
    c4 = broadcast(64) * bv + c4
    c5 = broadcast(80) * bv + c5
    pa += 96
    pb += 32
  }
  if rows == FallbackGEMM.mr && columns == FallbackGEMM.nr {
    storeTileRow(c0, c, alpha: alpha, beta: beta)
    storeTileRow(c1, c + ldc, alpha: alpha, beta: beta)
    storeTileRow(c2, c + 2 * ldc, alpha: alpha, beta: beta)
    storeTileRow(c3, c + 3 * ldc, alpha: alpha, beta: beta)
    storeTileRow(c4, c + 4 * ldc, alpha: alpha, beta: beta)
    storeTileRow(c5, c + 5 * ldc, alpha: alpha, beta: beta)
    return
  }
  // An edge tile: only the valid corner goes to C.
  withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: FallbackGEMM.mr) { tile in
    (tile[0], tile[1], tile[2], tile[3], tile[4], tile[5]) = (c0, c1, c2, c3, c4, c5)
    for r in 0..<rows {
      let row = c + r * ldc
      for j in 0..<columns {
        row[j] = beta == 0 ? alpha * tile[r][j] : alpha * tile[r][j] + beta * row[j]
      }
    }
  }
}

@inline(__always)
private func storeTileRow(_ value: SIMD8<Float>, _ row: UnsafeMutablePointer<Float>, alpha: Float, beta: Float) {
  let raw = UnsafeMutableRawPointer(row)
  var result = value * alpha
  if beta != 0 { result = raw.loadUnaligned(as: SIMD8<Float>.self) * beta + result }
  raw.storeBytes(of: result, as: SIMD8<Float>.self)
}

extension UnsafeMutablePointer where Pointee == Float {
  /// A 64-byte aligned buffer (packed panels are read with aligned SIMD loads).
  fileprivate static func allocateAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: Swift.max(count, 1))
  }

  fileprivate func deallocateAligned() { UnsafeMutableRawPointer(self).deallocate() }
}
