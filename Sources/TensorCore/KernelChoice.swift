import Foundation
import TensorKernels

#if arch(x86_64)
  import TensorKernelsAVX512
#endif

/// Picks, once per process, which build of the ``KernelSet`` kernels runs:
/// the AVX-512 build when the CPU and OS support it, else the baseline build.
/// `TESSERA_SIMD=baseline` forces the baseline (it can never force a wider
/// build than the CPU reports). Both give bit-identical results.
public enum KernelChoice {
  /// The kernels in use.
  static let active: any KernelSet.Type = {
    if EnvironmentSettings.forcesBaselineKernels { return BaselineKernels.self }
    return available.last ?? BaselineKernels.self
  }()

  /// Every build this CPU can run, baseline first (tests compare them).
  static let available: [any KernelSet.Type] = {
    var sets: [any KernelSet.Type] = [BaselineKernels.self]
    #if arch(x86_64)
      if CPUFeatures.supportsX86_64v4 { sets.append(AVX512Kernels.self) }
    #endif
    return sets
  }()

  /// `"avx512"` or `"baseline"`, for benchmark headers.
  public static var name: String { name(of: active) }

  static func name(of set: any KernelSet.Type) -> String {
    #if arch(x86_64)
      if set == AVX512Kernels.self { return "avx512" }
    #endif
    return "baseline"
  }
}

/// What the CPU and the OS support, read once.
enum CPUFeatures {
  /// The x86-64-v4 level (AVX-512 F/BW/CD/DQ/VL plus everything of v3) that
  /// `TensorKernelsAVX512` is compiled for. Linux lists a feature in
  /// /proc/cpuinfo only when the kernel also saves its registers.
  static let supportsX86_64v4: Bool = {
    #if os(Linux)
      let required = [
        "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "avx", "fma", "f16c", "bmi1", "bmi2",
        "movbe", "abm",
      ]
      guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
      else { return false }
      let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
      return required.allSatisfy(flags.contains)
    #elseif canImport(Darwin)
      let keys = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2_0", "fma", "bmi1", "bmi2"]
      return keys.allSatisfy { key in
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        return sysctlbyname("hw.optional.\(key)", &value, &size, nil, 0) == 0 && value != 0
      }
    #else
      return false
    #endif
  }()
}

/// The scalar math of the kernels, under its old name inside TensorCore.
typealias FastMath = TensorKernels.FastMath
