// swift-tools-version: 6.0
// libFuzzer harnesses; a separate package so the root build never compiles them.
// Build: swift build -c release -Xswiftc -sanitize=fuzzer,address (see README.md).
import PackageDescription

let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
  name: "TesseraFuzz",
  dependencies: [.package(name: "Tessera", path: "../..")],
  targets: [
    .target(name: "FuzzSupport"),
    .executableTarget(
      name: "JSONFuzzer", dependencies: ["FuzzSupport", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
    .executableTarget(
      name: "SafeTensorsHeaderFuzzer", dependencies: ["FuzzSupport", .product(name: "ModularCompression", package: "Tessera")],
      swiftSettings: harness),
  ]
)
