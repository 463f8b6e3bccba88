// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses over Tessera's parsers; built apart from the root package:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address
// Each harness is an executable whose entry point hands control to libFuzzer.
let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
  name: "TesseraFuzz",
  platforms: [.macOS(.v13)],
  dependencies: [.package(name: "Tessera", path: "../..")],
  targets: [
    .target(name: "FuzzDriver"),
    .executableTarget(
      name: "FuzzSafeTensors", dependencies: ["FuzzDriver", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
    .executableTarget(
      name: "FuzzTokenizer", dependencies: ["FuzzDriver", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
    .executableTarget(
      name: "FuzzConfig", dependencies: ["FuzzDriver", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
    .executableTarget(
      name: "FuzzRecipes", dependencies: ["FuzzDriver", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
  ]
)
