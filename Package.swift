// swift-tools-version: 6.0
import PackageDescription

// Release builds of the numeric code skip overflow and bounds checks in the
// hot loops; debug builds keep every check so tests catch indexing mistakes.
let numericSettings: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))
]

let package = Package(
  name: "Tessera",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "tessera", targets: ["tessera"]),
    .library(name: "ModularCompression", targets: ["ModularCompression"]),
  ],
  targets: [
    .target(name: "TensorCore", swiftSettings: numericSettings,
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
    .target(name: "NeuralLayers", dependencies: ["TensorCore"], swiftSettings: numericSettings),
    .target(name: "Tokenizers"),
    .target(name: "TextTasks", dependencies: ["TensorCore", "Tokenizers"]),
    .target(name: "Seq2SeqModels", dependencies: ["NeuralLayers", "Tokenizers"], swiftSettings: numericSettings),
    .target(name: "ModularCompression", dependencies: ["Seq2SeqModels", "TextTasks"]),
    .executableTarget(
      name: "tessera",
      dependencies: ["ModularCompression", "Seq2SeqModels", "TextTasks", "Tokenizers", "NeuralLayers", "TensorCore"]),

    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
    .testTarget(name: "NeuralLayersTests", dependencies: ["NeuralLayers"]),
    .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")]),
    .testTarget(name: "TextTasksTests", dependencies: ["TextTasks"], resources: [.copy("Fixtures")]),
    .testTarget(name: "Seq2SeqModelsTests", dependencies: ["Seq2SeqModels"], resources: [.copy("Fixtures")]),
    .testTarget(name: "ModularCompressionTests", dependencies: ["ModularCompression"]),
    .testTarget(name: "TesseraCLITests", dependencies: ["ModularCompression"]),
  ]
)
