// swift-tools-version: 6.0
import PackageDescription

// Release builds of the numeric code skip overflow and bounds checks in the
// hot loops; debug builds keep every check so tests catch indexing mistakes.
// -fno-math-errno lets `squareRoot()` (a C shim) compile to sqrtps instead of a
// call to sqrtf for negative inputs, which kept loops with a square root scalar.
let numericSettings: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked", "-wmo", "-Xcc", "-fno-math-errno"], .when(configuration: .release))
]

// TensorKernelsAVX512 compiles the same kernels as TensorKernels for
// x86-64-v4 (AVX-512) with 512-bit vectors; TensorCore calls it only when the
// CPU reports AVX-512 at run time. Debug builds and other architectures
// compile it for the baseline (it is then an unused duplicate).
#if arch(x86_64)
  let wideSIMDSettings: [SwiftSetting] = [
    .unsafeFlags(
      [
        "-Ounchecked", "-wmo", "-Xcc", "-fno-math-errno", "-Xcc", "-march=x86-64-v4", "-Xcc",
        "-mprefer-vector-width=512",
      ],
      .when(configuration: .release))
  ]
#else
  let wideSIMDSettings = numericSettings
#endif

let package = Package(
  name: "Tessera",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "tessera", targets: ["tessera"]),
    .library(name: "ModularCompression", targets: ["ModularCompression"]),
  ],
  targets: [
    // The one JSON value type and parser (configs, recipes, tokenizers, safetensors headers).
    .target(name: "JSONFormat"),
    .target(name: "TensorKernels", swiftSettings: numericSettings),
    .target(name: "TensorKernelsAVX512", dependencies: ["TensorKernels"], swiftSettings: wideSIMDSettings),
    // Spinning worker threads for parallel kernels (a thread wake-up per operation costs more than small ones).
    .target(name: "WorkerPool", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))],
            linkerSettings: [.linkedLibrary("pthread", .when(platforms: [.linux]))]),
    .target(name: "TensorCore", dependencies: ["JSONFormat", "TensorKernels", "TensorKernelsAVX512", "WorkerPool"], swiftSettings: numericSettings,
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
    // Int8 and bf16 products (AVX-512 VNNI, AVX-512, AVX2 and portable paths, chosen at run time).
    .target(name: "QuantizedKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
    // Fused single-query attention over a KV cache (decoding steps).
    .target(name: "AttentionKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
    .target(name: "NeuralLayers", dependencies: ["TensorCore", "QuantizedKernels", "AttentionKernels"], swiftSettings: numericSettings),
    .target(name: "Tokenizers", dependencies: ["JSONFormat"]),
    .target(name: "TextTasks", dependencies: ["TensorCore", "Tokenizers"]),
    .target(name: "Seq2SeqModels", dependencies: ["JSONFormat", "NeuralLayers", "Tokenizers", "AttentionKernels"], swiftSettings: numericSettings),
    .target(name: "ModularCompression", dependencies: ["JSONFormat", "Seq2SeqModels", "TextTasks"]),
    .executableTarget(
      name: "tessera",
      dependencies: ["ModularCompression", "Seq2SeqModels", "TextTasks", "Tokenizers", "NeuralLayers", "TensorCore", "JSONFormat"]),

    .testTarget(name: "JSONFormatTests", dependencies: ["JSONFormat"]),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
    .testTarget(name: "NeuralLayersTests", dependencies: ["NeuralLayers"]),
    .testTarget(name: "QuantizedKernelsTests", dependencies: ["QuantizedKernels"]),
    .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")]),
    .testTarget(name: "TextTasksTests", dependencies: ["TextTasks"], resources: [.copy("Fixtures")]),
    .testTarget(name: "Seq2SeqModelsTests", dependencies: ["Seq2SeqModels"], resources: [.copy("Fixtures")]),
    .testTarget(name: "ModularCompressionTests", dependencies: ["ModularCompression"]),
    .testTarget(name: "TesseraCLITests", dependencies: ["ModularCompression"]),
  ]
)
