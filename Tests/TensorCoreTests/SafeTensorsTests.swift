import XCTest

@testable import TensorCore

final class SafeTensorsTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try FileManager.default.removeItem(at: directory)
  }

  // MARK: - Helpers

  private static let source = "test.safetensors"

  /// A file with `header` (JSON text or raw bytes) followed by `buffer`.
  private func makeFile(header: String, buffer: [UInt8] = []) -> Data {
    makeFile(headerBytes: Array(header.utf8), buffer: buffer)
  }

  private func makeFile(headerBytes: [UInt8], buffer: [UInt8] = []) -> Data {
    var data = Data()
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: headerBytes)
    data.append(contentsOf: buffer)
    return data
  }

  /// One F32 entry's JSON.
  private func entry(_ name: String, shape: [Int], offsets: (Int, Int), dtype: String = "F32") -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offsets.0),\(offsets.1)]}"
  }

  private func assertReadFails(
    _ data: Data, _ expected: SafeTensorsError, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try SafeTensorsFile.read(data: data, source: Self.source), file: file, line: line) {
      XCTAssertEqual($0 as? SafeTensorsError, expected, file: file, line: line)
      XCTAssert("\($0)".contains(Self.source), "message names the file: \($0)", file: file, line: line)
    }
  }

  private func bytes(_ halfs: [UInt16]) -> [UInt8] {
    halfs.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
  }

  // MARK: - Writing and reading back

  func testRoundTripKeepsValuesShapesAndMetadata() throws {
    var rng = SeededRandom(seed: 1)
    let original = SafeTensorsFile(
      tensors: [
        "encoder.block.0.weight": .normal([4, 3], using: &rng),
        "a.scalar": Tensor(scalar: -7.25),
        "empty": Tensor.zeros([0, 3]),
        "name with \"quotes\", \\ and \n": Tensor([1, .infinity, -0.0, .greatestFiniteMagnitude]),
        "ünïcødé": Tensor([3]),
      ],
      metadata: ["format": "pt", "note": "tab\tquote\" ✓", "\u{01}": ""])
    let url = directory.appendingPathComponent("model.safetensors")
    try original.write(to: url)

    let loaded = try SafeTensorsFile.read(from: url)
    XCTAssertEqual(loaded.metadata, original.metadata)
    XCTAssertEqual(Set(loaded.tensors.keys), Set(original.tensors.keys))
    for (name, tensor) in original.tensors {
      XCTAssertEqual(loaded.tensors[name]?.shape, tensor.shape, name)
      XCTAssertEqual(
        loaded.tensors[name]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), name)
    }
    XCTAssertEqual(try Data(contentsOf: url), try original.serialized())
  }

  func testWriterLayoutSortsNamesAndPadsHeader() throws {
    let file = SafeTensorsFile(tensors: ["b": Tensor([1, 2]), "B": Tensor([3]), "a": Tensor([4, 5, 6])])
    let data = try file.serialized()
    let header = try SafeTensorsFile.readHeader(data: data, source: Self.source)
    XCTAssertEqual(header.names, ["B", "a", "b"], "byte order: uppercase first")
    XCTAssertEqual(header.headerByteCount % 8, 0)
    XCTAssertEqual(header.entry(named: "a")?.byteRange, 4..<16)
    XCTAssertEqual(header.entries.map(\.dtype), [.float32, .float32, .float32])
    XCTAssertEqual(data.count, header.dataStart + 24)
    // Same text and padding as the Python `safetensors` writer gives for these tensors.
    XCTAssertEqual(
      String(decoding: data[8..<header.dataStart], as: UTF8.self),
      #"{"B":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[3],"#
        + #""data_offsets":[4,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}     "#)
  }

  /// Bytes written by the Python `safetensors` package for the same tensors and
  /// metadata (Tests/Reference/make_safetensors_fixture.py).
  func testWriterMatchesReferenceWriterByteForByte() throws {
    let reference = Data(
      base64Encoded:
        "mAAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJiaWFzIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMCw4XX0sIndlaWdodCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMiwzXSwiZGF0YV9vZmZzZXRzIjpbOCwzMl19fSAgIAAAAD8AAAC/AACAPwAAAMAAAGBAAACAPgAAAABvEoO6"
    )!
    let file = SafeTensorsFile(
      tensors: [
        "weight": Tensor([1.0, -2.0, 3.5, 0.25, 0.0, -1e-3], shape: [2, 3]),
        "bias": Tensor([0.5, -0.5]),
      ],
      metadata: ["format": "pt"])
    XCTAssertEqual(try file.serialized(), reference)
  }

  func testHeaderOnlyReadFromFileDoesNotNeedTheData() throws {
    var rng = SeededRandom(seed: 2)
    let url = directory.appendingPathComponent("big.safetensors")
    try SafeTensorsFile(
      tensors: ["x": .uniform([256, 64], low: 0, high: 1, using: &rng), "y": Tensor([1])],
      metadata: ["k": "v"]
    ).write(to: url)
    let header = try SafeTensorsFile.readHeader(from: url)
    XCTAssertEqual(header.names, ["x", "y"])
    XCTAssertEqual(header.entry(named: "x")?.shape, [256, 64])
    XCTAssertEqual(header.entry(named: "x")?.elementCount, 256 * 64)
    XCTAssertEqual(header.entry(named: "y")?.byteRange, 65536..<65540)
    XCTAssertEqual(header.metadata, ["k": "v"])

    let onlyY = try SafeTensorsFile.read(from: url) { $0.name == "y" }
    XCTAssertEqual(Array(onlyY.tensors.keys), ["y"])
    XCTAssertEqual(onlyY.tensors["y"]?.scalars, [1])
  }

  func testWritingReservedNameFails() {
    let file = SafeTensorsFile(tensors: ["__metadata__": Tensor([1])])
    let url = directory.appendingPathComponent("bad.safetensors")
    XCTAssertThrowsError(try file.write(to: url)) {
      XCTAssertEqual($0 as? SafeTensorsError, .reservedName(source: url.path, name: "__metadata__"))
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
  }

  // MARK: - Reduced-precision and integer dtypes

  func testReadsFloat16HandComputedPatterns() throws {
    // 1, -2.5, 65504 (largest half), 2^-24 (smallest subnormal), 1023·2^-24
    // (largest subnormal), 2^-14 (smallest normal), +inf, -inf, NaN, -0.
    let patterns: [UInt16] = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0x8000]
    let header = "{" + entry("h", shape: [10], offsets: (0, 20), dtype: "F16") + "}"
    let values = try XCTUnwrap(
      SafeTensorsFile.read(data: makeFile(header: header, buffer: bytes(patterns)), source: Self.source)
        .tensors["h"]?.scalars)
    XCTAssertEqual(Array(values[0..<6]), [1, -2.5, 65504, 0x1p-24, 1023 * 0x1p-24, 0x1p-14])
    XCTAssertEqual(Array(values[6..<8]), [.infinity, -.infinity])
    XCTAssert(values[8].isNaN)
    XCTAssertEqual(values[9].bitPattern, (-0.0 as Float).bitPattern)
  }

  func testReadsBFloat16HandComputedPatterns() throws {
    // 1, -2.5, largest finite, 2^-133 (smallest subnormal), +inf, NaN.
    let patterns: [UInt16] = [0x3F80, 0xC020, 0x7F7F, 0x0001, 0x7F80, 0x7FC0]
    let header = "{" + entry("b", shape: [2, 3], offsets: (0, 12), dtype: "BF16") + "}"
    let tensor = try XCTUnwrap(
      SafeTensorsFile.read(data: makeFile(header: header, buffer: bytes(patterns)), source: Self.source)
        .tensors["b"])
    XCTAssertEqual(tensor.shape, [2, 3])
    let values = tensor.scalars
    XCTAssertEqual(Array(values[0..<5]), [1, -2.5, 3.3895314e38, 0x1p-133, .infinity])
    XCTAssert(values[5].isNaN)
  }

  func testHalfConversionMatchesFloat16ForEveryBitPattern() {
    #if !(os(macOS) && arch(x86_64))
      let mismatches = (0...UInt16.max).filter { bits in
        let expected = Float(Float16(bitPattern: bits))
        let actual = Float(float16Bits: bits)
        return expected.isNaN ? !actual.isNaN : actual.bitPattern != expected.bitPattern
      }
      XCTAssertEqual(mismatches.count, 0, "first mismatching patterns: \(mismatches.prefix(5))")
    #endif
  }

  /// A file written by the Python `safetensors` package
  /// (Tests/Reference/make_safetensors_fixture.py).
  func testReadsReferenceFileWithEveryDType() throws {
    let data = Data(
      base64Encoded:
        "oAEAAAAAAAB7ImxvbmciOnsiZHR5cGUiOiJJNjQiLCJzaGFwZSI6WzEsMl0sImRhdGFfb2Zmc2V0cyI6WzAsMTZdfSwiZG91YmxlIjp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMTYsMzJdfSwiaW50Ijp7ImR0eXBlIjoiSTMyIiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMzIsNDBdfSwiYnJhaW4iOnsiZHR5cGUiOiJCRjE2Iiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOls0MCw1Ml19LCJoYWxmIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOls5XSwiZGF0YV9vZmZzZXRzIjpbNTIsNzBdfSwiYnl0ZSI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbNzAsNzJdfSwiZmxhZyI6eyJkdHlwZSI6IkJPT0wiLCJzaGFwZSI6WzNdLCJkYXRhX29mZnNldHMiOls3Miw3NV19fSAgIP3/////////AAAAAAABAACamZmZmZm5P5x1AIg85Df+BwAAAPj///+APyDAYn8BAIB/wH8APADB/3sBAP8DAHwA/AB+AIAA/wEAAQ=="
    )!
    let header = try SafeTensorsFile.readHeader(data: data, source: Self.source)
    XCTAssertEqual(
      Dictionary(uniqueKeysWithValues: header.entries.map { ($0.name, $0.dtype) }),
      ["half": .float16, "brain": .bfloat16, "double": .float64, "long": .int64, "int": .int32,
       "byte": .uint8, "flag": .bool])
    let tensors = try SafeTensorsFile.read(data: data, source: Self.source).tensors

    let half = try XCTUnwrap(tensors["half"]?.scalars)
    XCTAssertEqual(Array(half[0..<7]), [1, -2.5, 65504, 0x1p-24, 1023 * 0x1p-24, .infinity, -.infinity])
    XCTAssert(half[7].isNaN)
    XCTAssertEqual(half[8].bitPattern, (-0.0 as Float).bitPattern)

    let brain = try XCTUnwrap(tensors["brain"])
    XCTAssertEqual(brain.shape, [2, 3])
    // torch rounds 3e38 to the bfloat16 0x7F62 = 3.00405527e38.
    XCTAssertEqual(Array(brain.scalars[0..<5]), [1, -2.5, 3.00405527047391e38, 0x1p-133, .infinity])
    XCTAssert(brain.scalars[5].isNaN)

    XCTAssertEqual(tensors["double"]?.scalars, [0.1, -.infinity], "F64 rounds to Float; -1e300 overflows")
    XCTAssertEqual(tensors["long"]?.shape, [1, 2])
    XCTAssertEqual(tensors["long"]?.scalars, [-3, 0x1p40])
    XCTAssertEqual(tensors["int"]?.scalars, [7, -8])
    XCTAssertEqual(tensors["byte"]?.scalars, [0, 255])
    XCTAssertEqual(tensors["flag"]?.scalars, [1, 0, 1])
  }

  // MARK: - Malformed files, one error case each

  func testFileShorterThanEightBytes() throws {
    assertReadFails(Data([1, 2, 3]), .fileTooShort(source: Self.source, byteCount: 3))
    let url = directory.appendingPathComponent("short.safetensors")
    try Data([0, 0]).write(to: url)
    XCTAssertThrowsError(try SafeTensorsFile.readHeader(from: url)) {
      XCTAssertEqual($0 as? SafeTensorsError, .fileTooShort(source: url.path, byteCount: 2))
    }
  }

  func testHeaderLengthPastEndOfFile() throws {
    var data = makeFile(header: "{}")
    data.removeLast()
    assertReadFails(data, .headerLengthPastEnd(source: Self.source, headerLength: 2, fileByteCount: 9))
    let url = directory.appendingPathComponent("cut.safetensors")
    try data.write(to: url)
    XCTAssertThrowsError(try SafeTensorsFile.readHeader(from: url)) {
      XCTAssertEqual($0 as? SafeTensorsError, .headerLengthPastEnd(source: url.path, headerLength: 2, fileByteCount: 9))
    }
    // A length near 2^64 must not overflow.
    var huge = Data(repeating: 0xFF, count: 8)
    huge.append(contentsOf: [0x7B, 0x7D])
    assertReadFails(huge, .headerLengthPastEnd(source: Self.source, headerLength: .max, fileByteCount: 10))
  }

  func testInvalidJSON() {
    for (header, reason) in [
      ("{\"a\": ", "unexpected end of the JSON text at byte 6 of the header"),
      ("{\"a\":1,}", "expected a quoted key at byte 7 of the header"),
      ("{} x", "unexpected text after the JSON value at byte 3 of the header"),
      ("{\"a\\q\":1}", "invalid escape '\\q' at byte 5 of the header"),
      ("{\"\\ud800x\":1}", "expected '\\u' at byte 8 of the header"),
      ("{\"a\":" + String(repeating: "[", count: 100), "nesting deeper than 64 levels at byte 68 of the header"),
    ] {
      assertReadFails(makeFile(header: header), .invalidHeaderJSON(source: Self.source, reason: reason))
    }
    assertReadFails(
      makeFile(headerBytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]),
      .invalidHeaderJSON(source: Self.source, reason: "not valid UTF-8"))
  }

  func testHeaderNotAnObject() {
    assertReadFails(makeFile(header: "[1, 2]"), .headerNotObject(source: Self.source, found: "an array"))
  }

  func testDuplicateTensorName() {
    // JSONSerialization would silently keep one of the two.
    let header = "{" + entry("w", shape: [1], offsets: (0, 4)) + "," + entry("w", shape: [1], offsets: (4, 8)) + "}"
    assertReadFails(
      makeFile(header: header, buffer: Array(repeating: 0, count: 8)),
      .duplicateName(source: Self.source, name: "w"))
  }

  func testMalformedEntry() {
    let cases: [(String, String)] = [
      ("{\"w\":[1]}", "expected an object, found an array"),
      ("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing 'dtype'"),
      ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "missing 'data_offsets'"),
      ("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing 'shape'"),
      ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
       "'data_offsets' must be [begin, end] with 0 <= begin <= end"),
      ("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"dtype\":\"F32\"}}",
       "key 'dtype' appears more than once"),
    ]
    for (header, reason) in cases {
      assertReadFails(
        makeFile(header: header, buffer: [0, 0, 0, 0]),
        .invalidEntry(source: Self.source, tensor: "w", reason: reason))
    }
  }

  func testUnknownDType() {
    let header = "{" + entry("q", shape: [4], offsets: (0, 4), dtype: "F8_E4M3") + "}"
    assertReadFails(
      makeFile(header: header, buffer: [0, 0, 0, 0]),
      .unknownDType(source: Self.source, tensor: "q", dtype: "F8_E4M3"))
  }

  func testInvalidShapeEntries() {
    assertReadFails(
      makeFile(header: "{" + entry("s", shape: [2, -1], offsets: (0, 0)) + "}"),
      .invalidShape(source: Self.source, tensor: "s", reason: "dimension 1 is -1"))
    assertReadFails(
      makeFile(header: "{\"s\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,0]}}"),
      .invalidShape(source: Self.source, tensor: "s", reason: "dimension 0 is 2.5"))
    assertReadFails(
      makeFile(header: "{\"s\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,0]}}"),
      .invalidShape(source: Self.source, tensor: "s", reason: "dimension 0 is a string"))
    assertReadFails(
      makeFile(header: "{" + entry("s", shape: [1 << 40, 1 << 40], offsets: (0, 0)) + "}"),
      .invalidShape(source: Self.source, tensor: "s", reason: "2-dimensional shape is too large"))
  }

  func testOffsetsOutOfRange() {
    assertReadFails(
      makeFile(header: "{" + entry("w", shape: [2], offsets: (0, 8)) + "}", buffer: [0, 0, 0, 0]),
      .offsetsOutOfRange(source: Self.source, tensor: "w", begin: 0, end: 8, bufferByteCount: 4))
  }

  func testOverlappingOffsets() {
    let header = "{" + entry("a", shape: [2], offsets: (0, 8)) + "," + entry("b", shape: [2], offsets: (4, 12)) + "}"
    assertReadFails(
      makeFile(header: header, buffer: Array(repeating: 0, count: 12)),
      .overlappingOffsets(source: Self.source, tensor: "b", other: "a"))
  }

  func testGapsAndTrailingBytesAreRejected() {
    let gap = "{" + entry("a", shape: [1], offsets: (0, 4)) + "," + entry("b", shape: [1], offsets: (8, 12)) + "}"
    assertReadFails(
      makeFile(header: gap, buffer: Array(repeating: 0, count: 12)),
      .uncoveredBytes(source: Self.source, range: 4..<8, previous: "a"))
    let trailing = "{" + entry("a", shape: [1], offsets: (0, 4)) + "}"
    assertReadFails(
      makeFile(header: trailing, buffer: Array(repeating: 0, count: 6)),
      .uncoveredBytes(source: Self.source, range: 4..<6, previous: "a"))
  }

  func testByteSizeNotMatchingShape() {
    assertReadFails(
      makeFile(header: "{" + entry("w", shape: [3], offsets: (0, 8)) + "}", buffer: Array(repeating: 0, count: 8)),
      .byteSizeMismatch(source: Self.source, tensor: "w", expected: 12, actual: 8))
  }

  func testInvalidMetadata() {
    assertReadFails(
      makeFile(header: "{\"__metadata__\":{\"epoch\":3}}"),
      .invalidMetadata(source: Self.source, reason: "value of 'epoch' must be a string, found a number"))
  }

  func testMissingFileIsUnreadable() {
    let url = directory.appendingPathComponent("missing.safetensors")
    XCTAssertThrowsError(try SafeTensorsFile.read(from: url)) {
      guard case .unreadable(let source, _) = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
      XCTAssertEqual(source, url.path)
    }
    XCTAssertThrowsError(try SafeTensorsFile.readHeader(from: url)) {
      guard case .unreadable(let source, _) = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
      XCTAssertEqual(source, url.path)
    }
  }

  func testHeaderJSONEscapesAndWhitespace() throws {
    // \u escapes (with a surrogate pair), escaped slash, padding whitespace, and
    // an unknown entry key, which the reference reader ignores too.
    let header =
      "  {\"\\u00e9\\ud83d\\ude00\\/x\" : {\"dtype\":\"F32\" ,\"shape\" : [ ],\"data_offsets\":[0,4],\"note\":[{}]}}\n\t "
    let file = try SafeTensorsFile.read(
      data: makeFile(header: header, buffer: [0, 0, 0x80, 0x3F]), source: Self.source)
    XCTAssertEqual(file.tensors["é😀/x"]?.scalars, [1])
    XCTAssertEqual(file.tensors["é😀/x"]?.shape, [])
  }

  // MARK: - Reading model weights

  func testWeightsMustBeFloatingPointAndFinite() throws {
    let url = directory.appendingPathComponent("weights.safetensors")
    let header = "{" + entry("a.weight", shape: [2], offsets: (0, 8)) + "," + entry("b.ids", shape: [2], offsets: (8, 16), dtype: "I32") + "}"
    let floats = [Float(1), 2].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    try makeFile(header: header, buffer: floats + [3, 0, 0, 0, 4, 0, 0, 0]).write(to: url)
    XCTAssertNoThrow(try SafeTensorsFile.read(from: url))
    XCTAssertThrowsError(try SafeTensorsFile.readWeights(from: url)) {
      XCTAssertEqual($0 as? SafeTensorsError, .nonFloatingPointWeight(source: url.path, tensor: "b.ids", dtype: "I32"))
      XCTAssertTrue("\($0)".contains("tensor 'b.ids' is stored as I32"), "\($0)")
    }
    let nan = [Float(1), .nan].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    try makeFile(header: "{" + entry("a.weight", shape: [2], offsets: (0, 8)) + "}", buffer: nan).write(to: url)
    XCTAssertThrowsError(try SafeTensorsFile.readWeights(from: url)) {
      XCTAssertEqual("\($0)", "\(url.path): tensor 'a.weight' holds nan at element 1; weights must be finite")
    }
  }
}
