import Seq2SeqModels
import TensorCore

/// Tiny teachers for registry and assembly tests: 16 wide, 2 heads, seeded.
enum TinyTeachers {
  static func t5(encoderLayers: Int, decoderLayers: Int, seed: UInt64, vocabularySize: Int = 24) -> T5Model {
    var config = T5Configuration()
    config.vocabSize = vocabularySize
    config.dModel = 16
    config.dKv = 4
    config.dFf = 32
    config.numHeads = 2
    config.numLayers = encoderLayers
    config.numDecoderLayers = decoderLayers
    config.relativeAttentionNumBuckets = 8
    config.relativeAttentionMaxDistance = 16
    config.dropoutRate = 0
    var generator = SeededRandom(seed: seed)
    return T5Model(config, using: &generator)
  }

  static func bart(encoderLayers: Int, decoderLayers: Int, seed: UInt64) -> BartModel {
    var config = BartConfiguration()
    config.vocabSize = 24
    config.dModel = 16
    config.encoderLayers = encoderLayers
    config.decoderLayers = decoderLayers
    config.encoderAttentionHeads = 2
    config.decoderAttentionHeads = 2
    config.encoderFfnDim = 32
    config.decoderFfnDim = 32
    config.maxPositionEmbeddings = 16
    config.dropout = 0
    var generator = SeededRandom(seed: seed)
    return BartModel(config, using: &generator)
  }
}
