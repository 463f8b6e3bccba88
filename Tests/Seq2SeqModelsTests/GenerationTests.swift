import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import XCTest

final class GenerationTests: XCTestCase {
  /// Sources of different lengths, so that the batch is padded.
  static let sources: [[Int]] = [[5, 6, 7, 8, 1], [9, 10, 2], [11, 3, 4, 12, 13, 14, 15], [16, 17]]

  /// A tiny T5 (gated, untied head) and a tiny BART. BART's end-of-sequence
  /// logit is lowered (its tied embedding otherwise predicts EOS right after
  /// the start token, which is EOS too), so that with both models some rows
  /// end early and others run to the limit.
  static func models() -> [any Seq2SeqModel] {
    var generator = SeededRandom(seed: 11)
    let t5 = T5Model(TinyModels.t5(gated: true, tied: false), using: &generator)
    let bart = BartModel(TinyModels.bart(), using: &generator)
    let bias = bart.namedParameters().first { $0.key == "final_logits_bias" }!.parameter
    bias.value.withMutableValues { $0[bart.specialTokens.eos] = -1 }
    return [t5, bart]
  }

  /// Greedy decoding written the slow, obvious way: rerun the whole model on
  /// the full prefix at every step, one source at a time.
  func naiveGreedy(_ model: any Seq2SeqModel, source: [Int], maxNewTokens: Int) -> [Int] {
    let tokens = model.specialTokens
    var output = [tokens.decoderStart]
    withoutGradient {
      for _ in 0..<maxNewTokens {
        let batch = Seq2SeqBatch(
          batchSize: 1, sourceLength: source.count, sourceIDs: source, sourceKeep: source.map { _ in 1 },
          targetLength: output.count, decoderInputIDs: output, labels: output)
        let logits = model.forward(batch)
        let last = logits.slice(axis: 1, (output.count - 1)..<output.count)
        output.append(last.argmaxLastAxis()[0])
        if output.last == tokens.eos { break }
      }
    }
    return output
  }

  func testGreedyEqualsNaiveLoopAndPadsFinishedRows() throws {
    for model in Self.models() {
      let outputs = try generate(model, sources: Self.sources, options: GenerationOptions(maxNewTokens: 10))
      let expected = Self.sources.map { naiveGreedy(model, source: $0, maxNewTokens: 10) }
      let width = expected.map(\.count).max()!
      let pad = model.specialTokens.pad
      XCTAssertEqual(outputs, expected.map { $0 + [Int](repeating: pad, count: width - $0.count) }, model.modelType)
      // Both kinds of row occur: some end early with EOS, some run to the limit.
      XCTAssertTrue(expected.contains { $0.count < 11 }, "\(model.modelType): no row ended early")
      XCTAssertTrue(expected.contains { $0.count == 11 && $0.last != model.specialTokens.eos }, "\(model.modelType): every row ended early")
    }
  }

  func testBeamSearchWithCacheEqualsFullRecomputation() throws {
    for model in Self.models() {
      for early in [EarlyStopping.heuristic, .whenBeamsFinished, .never] {
        let options = GenerationOptions(maxNewTokens: 9, numBeams: 3, lengthPenalty: 1.2, earlyStopping: early)
        let cached = try GenerationRun(model: model, sources: Self.sources, options: options).outputs()
        let recomputed = try GenerationRun(model: model, sources: Self.sources, options: options, usesCache: false).outputs()
        XCTAssertEqual(cached, recomputed, "\(model.modelType) \(early)")
        XCTAssertEqual(cached.map(\.count), [Int](repeating: cached[0].count, count: Self.sources.count))
      }
    }
  }

  func testOneBeamEqualsGreedy() throws {
    for model in Self.models() {
      let options = GenerationOptions(maxNewTokens: 8, numBeams: 1)
      let run = try GenerationRun(model: model, sources: Self.sources, options: options)
      let greedy = withoutGradient { run.greedy() }
      let beam = withoutGradient { BeamSearch(run: run).search() }
      // Beam search pads with EOS where the pad id is 0 (T5); compare up to each row's end.
      let eos = model.specialTokens.eos
      func trimmed(_ row: [Int]) -> [Int] {
        guard let end = row.dropFirst().firstIndex(of: eos) else { return row }
        return Array(row[...end])
      }
      XCTAssertEqual(greedy.map(trimmed), beam.map(trimmed), model.modelType)
    }
  }

  func testBatchingDoesNotChangeOutputs() throws {
    for model in Self.models() {
      for beams in [1, 3] {
        let options = GenerationOptions(maxNewTokens: 8, numBeams: beams)
        let batched = try generate(model, sources: Self.sources, options: options)
        for (index, source) in Self.sources.enumerated() {
          let alone = try generate(model, sources: [source], options: options)[0]
          XCTAssertEqual(Array(batched[index].prefix(alone.count)), alone, "\(model.modelType) beams \(beams) source \(index)")
          let fill = beams == 1 || model.specialTokens.pad != 0 ? model.specialTokens.pad : model.specialTokens.eos
          XCTAssertTrue(batched[index].dropFirst(alone.count).allSatisfy { $0 == fill })
        }
      }
    }
  }

  /// Finished hypotheses are sorted, end with EOS or at the limit, and score
  /// `sum of log-probabilities / generated length ^ lengthPenalty` under teacher forcing.
  func testFinishedHypothesesAreSortedAndScoredByLength() throws {
    for model in Self.models() {
      let options = GenerationOptions(maxNewTokens: 7, numBeams: 4, lengthPenalty: 1.5, earlyStopping: .never)
      let run = try GenerationRun(model: model, sources: Self.sources, options: options)
      let slots = withoutGradient { BeamSearch(run: run).finishedSlots() }
      let tokens = model.specialTokens
      for (index, item) in slots.enumerated() {
        XCTAssertEqual(item.map(\.score), item.map(\.score).sorted(by: >))
        XCTAssertTrue(item.allSatisfy(\.isFinished))
        for slot in item {
          XCTAssertTrue(slot.tokens.last == tokens.eos || slot.tokens.count == 7)
          let source = Self.sources[index]
          let input = [tokens.decoderStart] + slot.tokens.dropLast()
          let batch = Seq2SeqBatch(
            batchSize: 1, sourceLength: source.count, sourceIDs: source, sourceKeep: source.map { _ in 1 },
            targetLength: input.count, decoderInputIDs: input, labels: slot.tokens)
          let logProbabilities = withoutGradient { model.forward(batch).logSoftmax() }
          let total = slot.tokens.enumerated().reduce(Float(0)) { $0 + logProbabilities[0, $1.offset, $1.element] }
          let expected = total / pow(Float(slot.tokens.count), 1.5)
          XCTAssertEqual(slot.score, expected, accuracy: 1e-4 * max(1, abs(expected)))
        }
      }
    }
  }

  /// Stopping later can only find better hypotheses: with a positive length
  /// penalty, "never" ≥ the heuristic ≥ stopping when the beams are full.
  func testLaterStoppingNeverScoresWorse() throws {
    for model in Self.models() {
      var best: [EarlyStopping: [Float]] = [:]
      for early in [EarlyStopping.whenBeamsFinished, .heuristic, .never] {
        let options = GenerationOptions(maxNewTokens: 10, numBeams: 3, lengthPenalty: 2, earlyStopping: early)
        let run = try GenerationRun(model: model, sources: Self.sources, options: options)
        best[early] = withoutGradient { BeamSearch(run: run).finishedSlots().map { $0[0].score } }
      }
      for index in Self.sources.indices {
        XCTAssertGreaterThanOrEqual(best[.heuristic]![index], best[.whenBeamsFinished]![index])
        XCTAssertGreaterThanOrEqual(best[.never]![index], best[.heuristic]![index])
      }
    }
  }

  func testMinimumLengthAndForcedTokens() throws {
    for model in Self.models() {
      let eos = model.specialTokens.eos
      for beams in [1, 3] {
        let minimum = try generate(model, sources: Self.sources, options: GenerationOptions(maxNewTokens: 8, minNewTokens: 5, numBeams: beams))
        XCTAssertTrue(minimum.allSatisfy { !$0[1...5].contains(eos) }, "\(model.modelType) beams \(beams): \(minimum)")
        let forced = GenerationOptions(maxNewTokens: 6, numBeams: beams, forcedTokens: .custom(bos: 7, eos: eos))
        for row in try generate(model, sources: Self.sources, options: forced) {
          XCTAssertEqual(row[1], 7)
          XCTAssertTrue(row.dropFirst().contains(eos), "\(model.modelType) beams \(beams): \(row)")
        }
      }
    }
  }

  func testBartForcesEOSFromItsConfiguration() throws {
    var config = TinyModels.bart()
    config.forcedEosTokenId = 2
    var generator = SeededRandom(seed: 12)
    let model = BartModel(config, using: &generator)
    for beams in [1, 2] {
      let rows = try generate(model, sources: Self.sources, options: GenerationOptions(maxNewTokens: 5, numBeams: beams))
      XCTAssertTrue(rows.allSatisfy { $0.dropFirst().contains(2) }, "\(rows)")
      let free = GenerationOptions(maxNewTokens: 5, numBeams: beams, forcedTokens: .custom(bos: nil, eos: nil))
      XCTAssertNotEqual(try generate(model, sources: Self.sources, options: free), rows)
    }
  }

  func testBadInputsThrowNamedErrors() {
    let model = Self.models()[1]
    func message(_ sources: [[Int]], _ options: GenerationOptions = GenerationOptions()) -> String {
      do {
        _ = try generate(model, sources: sources, options: options)
        return "no error"
      } catch { return String(describing: error) }
    }
    XCTAssertEqual(message([[5], []]), "source 1 has no tokens")
    XCTAssertEqual(message([[5, 24]]), "source 0: token id 24 is outside the vocabulary 0..<24")
    XCTAssertTrue(message([[5]], GenerationOptions(numBeams: 0)).contains("numBeams"))
    XCTAssertTrue(message([[5]], GenerationOptions(maxNewTokens: 40)).contains("32 positions"))
    XCTAssertTrue(message([[Int](repeating: 5, count: 33)]).contains("33 tokens"))
    XCTAssertEqual(try generate(model, sources: []), [])
  }
}

/// Greedy and 3-beam outputs of the reference fixtures (`Tests/Reference/make_fixtures.py`),
/// compared row for row, padding included.
final class GenerationFixtureTests: XCTestCase {
  struct Reference: Decodable {
    struct Settings: Decodable {
      struct Beam: Decodable {
        var numBeams: Int
        var lengthPenalty: Float
        var earlyStopping: Bool
        enum CodingKeys: String, CodingKey {
          case numBeams = "num_beams", lengthPenalty = "length_penalty", earlyStopping = "early_stopping"
        }
      }
      var maxNewTokens: Int
      var beam: Beam
      enum CodingKeys: String, CodingKey { case maxNewTokens = "max_new_tokens", beam }
    }
    var settings: Settings
    var inputIDs: [[Int]]
    var attentionMask: [[Int]]
    var greedySequences: [[Int]]
    var beamSequences: [[Int]]
    var beamSequencesScores: [Float]
    enum CodingKeys: String, CodingKey {
      case settings, inputIDs = "input_ids", attentionMask = "attention_mask", greedySequences = "greedy_sequences"
      case beamSequences = "beam_sequences", beamSequencesScores = "beam_sequences_scores"
    }
  }

  func check(_ name: String) throws {
    let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent(name)
    let model = try ModelLoading.load(from: folder)
    let reference = try JSONDecoder().decode(
      Reference.self, from: Data(contentsOf: folder.appendingPathComponent("generation.json")))
    let sources = zip(reference.inputIDs, reference.attentionMask).map { ids, mask in
      zip(ids, mask).filter { $0.1 != 0 }.map(\.0)
    }
    let greedy = try generate(model, sources: sources, options: GenerationOptions(maxNewTokens: reference.settings.maxNewTokens))
    XCTAssertEqual(greedy, reference.greedySequences, "\(name) greedy")
    let beam = reference.settings.beam
    let options = GenerationOptions(
      maxNewTokens: reference.settings.maxNewTokens, numBeams: beam.numBeams, lengthPenalty: beam.lengthPenalty,
      earlyStopping: beam.earlyStopping ? .whenBeamsFinished : .heuristic)
    XCTAssertEqual(try generate(model, sources: sources, options: options), reference.beamSequences, "\(name) beam")
    let run = try GenerationRun(model: model, sources: sources, options: options)
    let scores = withoutGradient { BeamSearch(run: run).finishedSlots().map { $0[0].score } }
    for (score, expected) in zip(scores, reference.beamSequencesScores) {
      XCTAssertEqual(score, expected, accuracy: 1e-4, "\(name) beam score")
    }
  }

  func testT5Version1_0() throws { try check("t5_v1_0") }
  func testT5Version1_1() throws { try check("t5_v1_1") }
  func testBart() throws { try check("bart") }
  func testBartWithScaledEmbeddings() throws { try check("bart_scaled") }
}

extension GenerationTests {
  /// The vectorised greedy choice picks what argmaxLastAxis picks: ties, NaN and −∞ rows included.
  func testGreedyChoicesMatchArgmax() {
    var generator = SeededRandom(seed: 51)
    var values = Tensor.normal([6, 101], std: 1, using: &generator).scalars
    values[10] = 9; values[60] = 9                       // row 0: a tie
    values[101 + 4] = .nan; values[101 + 99] = 50        // row 1: NaN skipped
    for j in 0..<101 { values[202 + j] = -.infinity }    // row 2: nothing above −∞
    values[303 + 100] = .infinity                        // row 3: +∞ last
    let logits = Tensor(values, shape: [6, 101])
    XCTAssertEqual(logits.greedyChoices(), logits.argmaxLastAxis())
    XCTAssertEqual(Array(logits.greedyChoices().prefix(4)), [10, 99, 0, 100])
  }
}
