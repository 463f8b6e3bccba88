/// `tessera bench …`: speed figures of the tensor core (release build).
/// PLACEHOLDER until the BLAS work lands.
enum BenchCommands {
  static let gemm = Command(path: ["bench", "gemm"], summary: "GEMM GFLOP/s: raw BLAS, Tensor matmul, pure-Swift fallback") { _ in
    print("not yet")
  }
  static let ops = Command(path: ["bench", "ops"], summary: "Elementwise and normalisation kernels in GB/s against memcpy") { _ in
    print("not yet")
  }
}
