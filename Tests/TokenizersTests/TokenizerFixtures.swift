import Foundation
import XCTest

@testable import Tokenizers

/// The committed reference fixtures written by
/// `Tests/Reference/make_tokenizer_fixtures.py`.
enum TokenizerFixtures {
  struct Case: Decodable {
    var text: String
    var ids: [Int]
    var idsWithoutSpecialTokens: [Int]
    var decoded: String
    var decodedWithSpecialTokens: String
    var halfIDsDecoded: String
    var idsTruncated: [Int]

    enum CodingKeys: String, CodingKey {
      case text, ids, decoded
      case idsWithoutSpecialTokens = "ids_without_special_tokens"
      case decodedWithSpecialTokens = "decoded_with_special_tokens"
      case halfIDsDecoded = "half_ids_decoded"
      case idsTruncated = "ids_truncated"
    }
  }

  struct RandomDecode: Decodable {
    var ids: [Int]
    var decoded: String
    var decodedWithSpecialTokens: String

    enum CodingKeys: String, CodingKey {
      case ids, decoded
      case decodedWithSpecialTokens = "decoded_with_special_tokens"
    }
  }

  struct Reference: Decodable {
    var vocabSize: Int
    var cases: [Case]
    var randomDecodes: [RandomDecode]

    enum CodingKeys: String, CodingKey {
      case vocabSize = "vocab_size"
      case cases
      case randomDecodes = "random_decodes"
    }
  }

  struct Cases: Decodable {
    var truncateTo: Int
    var tokenizers: [String: Reference]

    enum CodingKeys: String, CodingKey {
      case truncateTo = "truncate_to"
      case tokenizers
    }
  }

  static var folder: URL {
    get throws {
      try XCTUnwrap(
        Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing from the test bundle")
    }
  }

  static func cases() throws -> Cases {
    let data = try Data(contentsOf: try folder.appendingPathComponent("tokenizer_cases.json"))
    return try JSONDecoder().decode(Cases.self, from: data)
  }

  static func tokenizerData(_ name: String) throws -> Data {
    try Data(contentsOf: try folder.appendingPathComponent("\(name).tokenizer.json"))
  }

  static func tokenizer(_ name: String) throws -> HuggingFaceTokenizer {
    try HuggingFaceTokenizer(tokenizerJSON: try tokenizerData(name), source: "\(name).tokenizer.json")
  }
}

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ testCase: XCTestCase) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("TokenizersTests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
  return url
}
