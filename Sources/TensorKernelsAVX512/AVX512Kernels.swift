#if arch(x86_64)
  import TensorKernels

  /// The ``KernelSet`` kernels compiled for x86-64-v4 (AVX-512, 512-bit
  /// vectors, FMA; see Package.swift). TensorCore calls them only after
  /// checking that the CPU and the OS support AVX-512: on other CPUs these
  /// instructions would fault.
  public enum AVX512Kernels: KernelSet {
    // Release builds compile this module with FMA. (A debug build compiles it
    // for the baseline; it then still runs, with fmaf calls.)
    public typealias Arithmetic = FusedMultiplyAdd
  }
#endif
