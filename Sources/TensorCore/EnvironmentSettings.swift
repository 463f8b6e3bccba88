import Foundation
#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `TESSERA_THREADS` and `TESSERA_SIMD` variables, read once per process.
/// A value that cannot be used is not ignored silently: one line on standard
/// error names the variable, the value and what runs instead.
public enum EnvironmentSettings {
  /// The most threads `TESSERA_THREADS` may ask for (far above any core count;
  /// beyond it a typo such as `80000` would start that many threads).
  public static let maximumThreads = 1024

  /// `TESSERA_THREADS` when usable, else nil (every core).
  static let threads: Int? = report(threads(from: variable("TESSERA_THREADS"), cores: ProcessInfoCores.activeCount))

  /// Whether `TESSERA_SIMD=baseline` forces the baseline kernels.
  static let forcesBaselineKernels: Bool = report(forcesBaseline(from: variable("TESSERA_SIMD")))

  /// Reads every variable now, so a warning comes when a command starts rather
  /// than in the middle of its output.
  public static func check() {
    _ = threads
    _ = forcesBaselineKernels
  }

  /// Parses a `TESSERA_THREADS` value: unset or blank means every core.
  static func threads(from text: String?, cores: Int) -> (value: Int?, warning: String?) {
    guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return (nil, nil) }
    if let value = Int(text.trimmingCharacters(in: .whitespaces)), (1...maximumThreads).contains(value) { return (value, nil) }
    return (nil, "ignoring TESSERA_THREADS='\(text)' (expected a whole number from 1 to \(maximumThreads)); using \(cores) threads, one per core")
  }

  /// Parses a `TESSERA_SIMD` value: `auto` (or unset) picks the widest build the CPU runs, `baseline` the baseline.
  static func forcesBaseline(from text: String?) -> (value: Bool, warning: String?) {
    switch text?.trimmingCharacters(in: .whitespaces).lowercased() {
    case nil, "", "auto": return (false, nil)
    case "baseline": return (true, nil)
    case let other?:
      let widest = KernelChoice.available.last.map(KernelChoice.name(of:)) ?? "baseline"
      return (false, "ignoring TESSERA_SIMD='\(other)' (expected auto or baseline); using auto (\(widest) kernels)")
    }
  }

  private static func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

  private static func report<Value>(_ parsed: (value: Value, warning: String?)) -> Value {
    if let warning = parsed.warning { printToStandardError("tessera: " + warning) }
    return parsed.value
  }
}
