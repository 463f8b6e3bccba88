import XCTest

import TensorCore
@testable import TextTasks

/// Parity with sacreBLEU 2.6.0 and rouge-score 0.1.2 on the committed fixture
/// made by `Tests/Reference/make_metric_fixtures.py`.
final class MetricParityTests: XCTestCase {
  struct Fixture: Decodable {
    struct Triple: Decodable {
      let rouge1: Double
      let rouge2: Double
      let rougeL: Double
    }
    struct Pair: Decodable {
      let hyp: String
      let ref: String
      let tok13a_hyp: String
      let tok13a_ref: String
      let rouge: Triple
      let rouge_stem: Triple
    }
    struct Corpus: Decodable {
      let start: Int
      let end: Int
      let bleu: Double
      let bleu_counts: [Int]
      let bleu_totals: [Int]
      let bleu_sys_len: Int
      let bleu_ref_len: Int
      let chrf: Double
      let rouge_mean: Triple
      let rouge_stem_mean: Triple
    }
    let pairs: [Pair]
    let corpus: [Corpus]
    let stems: [String: String]
  }

  static let fixture: Fixture = {
    let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    let data = try! Data(contentsOf: folder.appendingPathComponent("metric_fixtures.json"))
    return try! JSONDecoder().decode(Fixture.self, from: data)
  }()

  func testFixtureCoversTheCornerCases() {
    let pairs = Self.fixture.pairs
    XCTAssertGreaterThanOrEqual(pairs.count, 200)
    XCTAssertTrue(pairs.contains { $0.hyp.isEmpty })
    XCTAssertTrue(pairs.contains { $0.hyp.unicodeScalars.contains { $0.value > 0x2000 } })
    XCTAssertGreaterThanOrEqual(Self.fixture.corpus.count, 5)
  }

  func testThirteenATokenizerMatchesSacreBLEU() {
    for pair in Self.fixture.pairs {
      XCTAssertEqual(tokens(pair.hyp), pair.tok13a_hyp, "13a tokens of \(pair.hyp.debugDescription)")
      XCTAssertEqual(tokens(pair.ref), pair.tok13a_ref, "13a tokens of \(pair.ref.debugDescription)")
    }
  }

  func testCorpusBLEUMatchesSacreBLEU() throws {
    for slice in Self.fixture.corpus {
      let pairs = Self.fixture.pairs[slice.start..<slice.end]
      let bleu = try Metrics.bleu(hypotheses: pairs.map(\.hyp), references: pairs.map(\.ref))
      let name = "BLEU [\(slice.start):\(slice.end)]"
      XCTAssertEqual(bleu.counts, slice.bleu_counts, name)
      XCTAssertEqual(bleu.totals, slice.bleu_totals, name)
      XCTAssertEqual(bleu.hypothesisLength, slice.bleu_sys_len, name)
      XCTAssertEqual(bleu.referenceLength, slice.bleu_ref_len, name)
      XCTAssertEqual(bleu.score, slice.bleu, accuracy: 0.01, name)
    }
  }

  func testCorpusChrFMatchesSacreBLEU() throws {
    for slice in Self.fixture.corpus {
      let pairs = Self.fixture.pairs[slice.start..<slice.end]
      let chrF = try Metrics.chrF(hypotheses: pairs.map(\.hyp), references: pairs.map(\.ref))
      XCTAssertEqual(chrF, slice.chrf, accuracy: 0.01, "chrF [\(slice.start):\(slice.end)]")
    }
  }

  func testPairRougeMatchesRougeScore() {
    for pair in Self.fixture.pairs {
      for (stemming, expected) in [(false, pair.rouge), (true, pair.rouge_stem)] {
        let scores = Metrics.rouge(hypothesis: pair.hyp, reference: pair.ref, useStemmer: stemming)
        let name = "ROUGE (stem \(stemming)) of \(pair.hyp.debugDescription) vs \(pair.ref.debugDescription)"
        XCTAssertEqual(scores.rouge1.f1, expected.rouge1, accuracy: 1e-4, name)
        XCTAssertEqual(scores.rouge2.f1, expected.rouge2, accuracy: 1e-4, name)
        XCTAssertEqual(scores.rougeL.f1, expected.rougeL, accuracy: 1e-4, name)
      }
    }
  }

  func testCorpusRougeIsTheMeanF1() throws {
    for slice in Self.fixture.corpus {
      let pairs = Self.fixture.pairs[slice.start..<slice.end]
      for (stemming, expected) in [(false, slice.rouge_mean), (true, slice.rouge_stem_mean)] {
        let rouge = try Metrics.rouge(hypotheses: pairs.map(\.hyp), references: pairs.map(\.ref), useStemmer: stemming)
        let name = "ROUGE mean [\(slice.start):\(slice.end)] stem \(stemming)"
        XCTAssertEqual(rouge.rouge1, expected.rouge1, accuracy: 1e-4, name)
        XCTAssertEqual(rouge.rouge2, expected.rouge2, accuracy: 1e-4, name)
        XCTAssertEqual(rouge.rougeL, expected.rougeL, accuracy: 1e-4, name)
      }
    }
  }

  func testPorterStemmerMatchesNLTK() {
    var wrong: [String] = []
    for (word, stem) in Self.fixture.stems.sorted(by: { $0.key < $1.key }) where PorterStemmer.stem(word) != stem {
      wrong.append("\(word) → \(PorterStemmer.stem(word)) (NLTK: \(stem))")
    }
    XCTAssertTrue(wrong.isEmpty, wrong.prefix(20).joined(separator: "\n"))
    XCTAssertGreaterThan(Self.fixture.stems.count, 500)
  }

  private func tokens(_ text: String) -> String {
    Tokenizer13a.tokenize(text).map { String(String.UnicodeScalarView($0.map { Unicode.Scalar($0)! })) }.joined(separator: " ")
  }
}
