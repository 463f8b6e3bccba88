import XCTest

@testable import TensorCore

final class BLASBackendTests: XCTestCase {
  // MARK: choosing the backend from TESSERA_BLAS

  func testChoiceParsing() throws {
    XCTAssertEqual(try BLASChoice(environmentValue: nil), .auto)
    XCTAssertEqual(try BLASChoice(environmentValue: ""), .auto)
    XCTAssertEqual(try BLASChoice(environmentValue: " OpenBLAS "), .openblas)
    XCTAssertEqual(try BLASChoice(environmentValue: "none"), BLASChoice.none)
    XCTAssertThrowsError(try BLASChoice(environmentValue: "mkl")) { error in
      XCTAssertEqual(error as? BLASConfigurationError, .invalidChoice("mkl"))
      let message = String(describing: error)
      XCTAssertTrue(message.contains("'mkl'"), message)
      XCTAssertTrue(message.contains("auto, openblas, none"), message)
    }
  }

  func testNoneNeverOpensALibrary() {
    var opened: [String] = []
    let backend = BLASBackend.resolve(environmentValue: "none") { candidate in
      opened.append(candidate.path)
      return BLASLibrary.open(candidate)
    }
    XCTAssertNil(backend.library)
    XCTAssertEqual(backend.name, "fallback")
    XCTAssertEqual(opened, [])
    XCTAssertEqual(backend.warnings, [])
  }

  func testAutoTakesTheFirstLibraryThatOpens() {
    var tried: [String] = []
    let backend = BLASBackend.resolve(environmentValue: "auto") { candidate in
      tried.append(candidate.path)
      return tried.count == 2 ? self.fakeLibrary(candidate) : nil
    }
    let candidates = BLASChoice.auto.candidates
    XCTAssertGreaterThanOrEqual(candidates.count, 2)
    XCTAssertEqual(tried, candidates.prefix(2).map(\.path))
    XCTAssertEqual(backend.name, "\(candidates[1].label) (fake)")
    XCTAssertEqual(backend.warnings, [])
  }

  func testInvalidValueWarnsAndFallsBackToAuto() {
    var tried: [String] = []
    let backend = BLASBackend.resolve(environmentValue: "fastest") { candidate in
      tried.append(candidate.path)
      return nil
    }
    XCTAssertEqual(tried, BLASChoice.auto.candidates.map(\.path))
    XCTAssertEqual(backend.name, "fallback")
    XCTAssertEqual(backend.warnings.count, 1)
    XCTAssertTrue(backend.warnings[0].contains("valid values: auto, openblas, none"), backend.warnings[0])
  }

  func testOpenBLASThatDoesNotOpenWarns() {
    let backend = BLASBackend.resolve(environmentValue: "openblas") { _ in nil }
    XCTAssertNil(backend.library)
    XCTAssertEqual(backend.warnings.count, 1)
    XCTAssertTrue(backend.warnings[0].contains("libopenblas"), backend.warnings[0])
  }

  func testOpeningAMissingLibraryGivesNil() {
    XCTAssertNil(BLASLibrary.open(BLASCandidate(label: "x", path: "libtessera-no-such-blas.so.9")))
  }

  func testSkylakeXKernelsOnlyForIntelAndAMDWithAVX512() {
    let flags = "fpu avx2 avx512f avx512dq avx512bw avx512vl"
    XCTAssertTrue(OpenBLASCoreType.prefersSkylakeX(["vendor_id": "GenuineIntel", "flags": flags]))
    XCTAssertTrue(OpenBLASCoreType.prefersSkylakeX(["vendor_id": "AuthenticAMD", "flags": flags]))
    XCTAssertFalse(OpenBLASCoreType.prefersSkylakeX(["vendor_id": "AuthenticAMD", "flags": "fpu avx2 fma"]))
    XCTAssertFalse(OpenBLASCoreType.prefersSkylakeX(["vendor_id": "HygonGenuine", "flags": flags]))
    XCTAssertFalse(
      OpenBLASCoreType.prefersSkylakeX(["vendor_id": "GenuineIntel", "flags": "fpu avx2 avx512f avx512dq avx512vl"]))
    XCTAssertFalse(OpenBLASCoreType.prefersSkylakeX(["vendor_id": "GenuineIntel"]))
  }

  // MARK: a real library against the reference

  func testOpenBLASMatchesReference() throws {
    let library = try XCTUnwrap(
      BLASChoice.openblas.candidates.lazy.compactMap(BLASLibrary.open).first,
      "OpenBLAS is not installed; the design assumes it (libopenblas0-pthread)")
    XCTAssertTrue(library.name.hasPrefix("openblas ("), library.name)
    XCTAssertTrue(library.canSetThreadCount)
    library.setThreadCount(ThreadCount.current)
    let gemm: GEMMFunction = { tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      // The library itself cannot take k == 0 with lda == 0; BLAS.sgemm screens that.
      if k == 0 || m == 0 || n == 0 {
        BLAS.sgemm(
          transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
      } else {
        library.multiply(
          transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
      }
    }
    for (index, gemmCase) in GEMMCase.awkward.enumerated() {
      gemmCase.check(gemm, seed: 2000 + UInt64(index))
    }
  }

  func testBackendNameIsReported() {
    XCTAssertFalse(BLAS.backendName.isEmpty)
    XCTAssertEqual(BLAS.backendName == "fallback", BLAS.library == nil)
  }

  private func fakeLibrary(_ candidate: BLASCandidate) -> BLASLibrary {
    BLASLibrary(
      name: "\(candidate.label) (fake)", sgemm: { _, _, _, _, _, _, _, _, _, _, _, _, _, _ in },
      sgemv: nil, setNumThreads: nil, sgesdd: nil)
  }
}
