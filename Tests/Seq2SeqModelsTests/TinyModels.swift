import Foundation
import NeuralLayers
import Seq2SeqModels
import TensorCore

/// Small configurations for behaviour tests.
enum TinyModels {
  static func t5(gated: Bool = false, tied: Bool = true, encoderLayers: Int = 2, decoderLayers: Int = 4) -> T5Configuration {
    var config = T5Configuration()
    config.vocabSize = 24
    config.dModel = 16
    config.dKv = 4
    config.dFf = 32
    config.numHeads = 2
    config.numLayers = encoderLayers
    config.numDecoderLayers = decoderLayers
    config.relativeAttentionNumBuckets = 8
    config.relativeAttentionMaxDistance = 16
    config.feedForwardProj = gated ? "gated-gelu" : "relu"
    config.tieWordEmbeddings = tied
    config.dropoutRate = 0
    return config
  }

  static func bart(encoderLayers: Int = 2, decoderLayers: Int = 4) -> BartConfiguration {
    var config = BartConfiguration()
    config.vocabSize = 24
    config.dModel = 16
    config.encoderLayers = encoderLayers
    config.decoderLayers = decoderLayers
    config.encoderAttentionHeads = 2
    config.decoderAttentionHeads = 2
    config.encoderFfnDim = 32
    config.decoderFfnDim = 32
    config.maxPositionEmbeddings = 32
    config.dropout = 0
    config.initStd = 0.2
    return config
  }

  /// A copy task batch: target = source, with padding in the second row.
  static func copyBatch(eos: Int = 1, pad: Int = 0, start: Int = 0) -> Seq2SeqBatch {
    let sources: [[Int]] = [[5, 6, 7, 8], [9, 10, 11]]
    let length = 5
    var ids: [Int] = [], keep: [Float] = [], decoderIDs: [Int] = [], labels: [Int] = []
    for source in sources {
      let withEOS = source + [eos]
      ids += withEOS + [Int](repeating: pad, count: length - withEOS.count)
      keep += [Float](repeating: 1, count: withEOS.count) + [Float](repeating: 0, count: length - withEOS.count)
      let target = withEOS + [Int](repeating: -100, count: length - withEOS.count)
      labels += target
      decoderIDs += [start] + target.dropLast().map { $0 == -100 ? pad : $0 }
    }
    return Seq2SeqBatch(
      batchSize: 2, sourceLength: length, sourceIDs: ids, sourceKeep: keep, targetLength: length,
      decoderInputIDs: decoderIDs, labels: labels)
  }
}
