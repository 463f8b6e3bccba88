import JSONFormat
import XCTest

private struct Settings: Decodable {
  var steps = 1
  var inner: Inner?

  enum CodingKeys: String, CodingKey, CaseIterable { case steps, inner }

  init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? steps
    inner = try c.decodeIfPresent(Inner.self, forKey: .inner)
  }
}

private struct Inner: Decodable {
  var rate: Double

  enum CodingKeys: String, CodingKey, CaseIterable { case rate }

  init(from decoder: Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.self)
    rate = try decoder.container(keyedBy: CodingKeys.self).decode(Double.self, forKey: .rate)
  }
}

final class StrictDecodingTests: XCTestCase {
  private func decodeError(_ text: String) throws -> JSONFieldError? {
    let value = try JSONValue.parse(Array(text.utf8))
    do {
      _ = try StrictJSON.decode(Settings.self, from: value, path: ["training"])
      return nil
    } catch let error as JSONFieldError {
      return error
    }
  }

  func testUnknownKeysAreNamedWithTheirPath() throws {
    XCTAssertEqual(
      try decodeError(#"{"stepz": 3}"#),
      JSONFieldError(path: "training.stepz", reason: "unknown field; expected one of steps, inner"))
    XCTAssertEqual(
      try decodeError(#"{"inner": {"rate": 1, "rte": 2}}"#),
      JSONFieldError(path: "training.inner.rte", reason: "unknown field; expected one of rate"))
  }

  func testTypeAndMissingErrorsNameTheField() throws {
    XCTAssertEqual(try decodeError(#"{"steps": "3"}"#)?.description, "field 'training.steps': expected an integer")
    XCTAssertEqual(try decodeError(#"{"inner": {}}"#)?.description, "field 'training.inner.rate': missing")
    XCTAssertNil(try decodeError(#"{"steps": 3, "inner": {"rate": 0.5}}"#))
  }
}
