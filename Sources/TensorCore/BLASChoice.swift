#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Which GEMM backend `TESSERA_BLAS` asks for.
public enum BLASChoice: String, CaseIterable, Sendable {
  /// The first library in ``candidates`` that opens, else the fallback.
  case auto
  /// OpenBLAS only (a warning, then the fallback, when it does not open).
  case openblas
  /// The pure-Swift fallback; no library is opened.
  case none

  /// Parses a `TESSERA_BLAS` value: nil or blank means ``auto``; case and
  /// surrounding spaces do not matter. Anything else is an error that lists
  /// the valid values.
  public init(environmentValue value: String?) throws {
    let text = (value ?? "").trimmingSpaces().lowercased()
    if text.isEmpty {
      self = .auto
    } else if let choice = BLASChoice(rawValue: text) {
      self = choice
    } else {
      throw BLASConfigurationError.invalidChoice(value ?? "")
    }
  }

  /// The current value of `TESSERA_BLAS`.
  static var environmentValue: String? {
    getenv("TESSERA_BLAS").map { String(cString: $0) }
  }

  /// The libraries to try, in order, on this platform.
  public var candidates: [BLASCandidate] {
    switch self {
    case .none: []
    case .openblas: BLASCandidate.openBLAS
    case .auto: BLASCandidate.platformDefault + BLASCandidate.openBLAS + BLASCandidate.reference
    }
  }
}

/// A library `dlopen` may find, with the label shown in ``BLAS/backendName``.
public struct BLASCandidate: Sendable, Equatable {
  public let label: String
  public let path: String

  public init(label: String, path: String) {
    self.label = label
    self.path = path
  }

  #if os(Linux)
    static let openBLAS = [
      BLASCandidate(label: "openblas", path: "libopenblas.so.0"),
      BLASCandidate(label: "openblas", path: "libopenblas.so"),
    ]
    /// Whatever `libblas.so.3` the system's alternatives point at.
    static let reference = [BLASCandidate(label: "blas", path: "libblas.so.3")]
    static let platformDefault: [BLASCandidate] = []
  #elseif canImport(Darwin)
    static let openBLAS = [
      BLASCandidate(label: "openblas", path: "libopenblas.dylib"),
      BLASCandidate(label: "openblas", path: "/opt/homebrew/opt/openblas/lib/libopenblas.dylib"),
      BLASCandidate(label: "openblas", path: "/usr/local/opt/openblas/lib/libopenblas.dylib"),
    ]
    static let reference: [BLASCandidate] = []
    static let platformDefault = [
      BLASCandidate(
        label: "accelerate", path: "/System/Library/Frameworks/Accelerate.framework/Accelerate")
    ]
  #else
    static let openBLAS = [BLASCandidate(label: "openblas", path: "libopenblas.so.0")]
    static let reference: [BLASCandidate] = []
    static let platformDefault: [BLASCandidate] = []
  #endif
}

/// A `TESSERA_BLAS` setting that cannot be honoured.
public enum BLASConfigurationError: Error, Equatable, CustomStringConvertible {
  case invalidChoice(String)
  case libraryNotFound(choice: BLASChoice, tried: [String])

  public var description: String {
    switch self {
    case .invalidChoice(let value):
      let valid = BLASChoice.allCases.map(\.rawValue).joined(separator: ", ")
      return "invalid TESSERA_BLAS value '\(value)'; valid values: \(valid)"
    case .libraryNotFound(let choice, let tried):
      return "TESSERA_BLAS=\(choice.rawValue): no library opened (tried \(tried.joined(separator: ", ")))"
    }
  }
}

extension String {
  fileprivate func trimmingSpaces() -> String {
    String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }
}
