import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

/// A test case with a fresh temporary `folder` holding a tiny model folder at `model`.
class TinyModelCLITestCase: XCTestCase {
  var folder: URL!
  var model: URL!

  override func setUpWithError() throws {
    folder = CLI.temporaryFolder()
    model = folder.appendingPathComponent("model")
    try Self.saveTinyModel(to: model)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

  /// A one-layer T5 with the byte-level tokenizer (259 tokens).
  static func saveTinyModel(to url: URL, vocabularySize: Int = 259) throws {
    var config = T5Configuration()
    (config.vocabSize, config.dModel, config.dKv, config.dFf, config.numHeads) = (vocabularySize, 16, 4, 32, 2)
    (config.numLayers, config.numDecoderLayers) = (1, 1)
    (config.relativeAttentionNumBuckets, config.relativeAttentionMaxDistance) = (8, 16)
    var generator = SeededRandom(seed: 5)
    try ModelExport.save(T5Model(config, using: &generator), to: url, tokenizer: ByteTokenizer())
  }
}
