import Foundation
import NeuralLayers
import TensorCore

/// Token ids a model needs for training and generation.
public struct SpecialTokenIDs: Sendable, Equatable {
  public var pad: Int
  public var eos: Int
  public var decoderStart: Int
  public init(pad: Int, eos: Int, decoderStart: Int) {
    self.pad = pad
    self.eos = eos
    self.decoderStart = decoderStart
  }
}

/// A padded batch of source/target pairs, row-major `[B, S]` and `[B, T]`.
public struct Seq2SeqBatch: Sendable {
  public var batchSize: Int
  public var sourceLength: Int
  public var sourceIDs: [Int]
  /// 1 for real tokens, 0 for padding.
  public var sourceKeep: [Float]
  public var targetLength: Int
  /// Decoder inputs: labels shifted right behind the decoder start token.
  public var decoderInputIDs: [Int]
  /// Optional keep-mask of the decoder inputs (the reference ignores it by default).
  public var decoderKeep: [Float]?
  /// Targets; -100 marks positions that do not count.
  public var labels: [Int]
  /// Set on one process's share of a data-parallel step: which rows of the
  /// step's whole batch these are (dropout masks follow them).
  public var rows: BatchRows?
  /// This share's part of the whole batch's counted target tokens (1 for a
  /// whole batch): the weight of its loss and gradients in a data-parallel step.
  public internal(set) var tokenShare: Float = 1

  public init(
    batchSize: Int, sourceLength: Int, sourceIDs: [Int], sourceKeep: [Float], targetLength: Int,
    decoderInputIDs: [Int], decoderKeep: [Float]? = nil, labels: [Int]
  ) {
    self.batchSize = batchSize
    self.sourceLength = sourceLength
    self.sourceIDs = sourceIDs
    self.sourceKeep = sourceKeep
    self.targetLength = targetLength
    self.decoderInputIDs = decoderInputIDs
    self.decoderKeep = decoderKeep
    self.labels = labels
  }

  /// `[B·T]` 1 where a label counts in the loss, 0 where it is -100.
  public var labelKeep: [Float] { labels.map { $0 == -100 ? 0 : 1 } }

  /// The number of target tokens that count in the loss.
  public var countedTargets: Int { labels.filter { $0 != -100 }.count }
}

/// An encoder-decoder model: two layer stacks, an output head and its configuration.
public protocol Seq2SeqModel: ParameterContainer {
  /// `"t5"` or `"bart"`, as `config.json`'s `model_type`.
  var modelType: String { get }
  var encoder: any LayerStack { get }
  var decoder: any LayerStack { get }
  var specialTokens: SpecialTokenIDs { get }
  var vocabularySize: Int { get }
  var modelWidth: Int { get }
  /// The dropout rate used when training.
  var dropoutRate: Float { get }
  /// Decoder output `[B, T, C]` → logits `[B, T, V]`.
  func logits(_ decoderOutput: Tensor) -> Tensor
  /// `config.json` for the model as it is now (depths follow the blocks).
  func configurationJSON() throws -> Data
  /// `config.json` of this model with `sizes` heads and feed-forward units
  /// per layer (structured pruning's smaller model); throws
  /// ``StructuredPruningError/unsupported(_:)`` when the family's configuration cannot hold them.
  func configurationJSON(resizedTo sizes: BlockSizes) throws -> Data
  /// Weights under the reference checkpoint's key names (the inverse of ``sanitize(weights:source:)``).
  func checkpointTensors() -> [String: Tensor]
  /// Maps checkpoint tensors with the reference's key names onto this
  /// model's keys (the family's renames and tied copies); `source` names the
  /// file in errors.
  func sanitize(weights: [String: Tensor], source: String) throws -> [String: Tensor]
  /// How many positions each stack can embed (learned positions); nil when unbounded.
  var positionLimit: Int? { get }
  /// The tokens the configuration forces at the first and the last generation step.
  var forcedTokenIDs: (bos: Int?, eos: Int?) { get }
}

extension Seq2SeqModel {
  /// Runs the encoder: `[B, S, C]`.
  public func encode(_ batch: Seq2SeqBatch, taps: StackTaps? = nil, dropout: ((Tensor) -> Tensor)? = nil) -> Tensor {
    encoder.forward(
      batch.sourceIDs, batch: batch.batchSize, length: batch.sourceLength, keep: batch.sourceKeep, taps: taps,
      dropout: dropout)
  }

  /// Runs the decoder with teacher forcing: `[B, T, C]`.
  public func decode(
    _ batch: Seq2SeqBatch, memory: Tensor, taps: StackTaps? = nil, dropout: ((Tensor) -> Tensor)? = nil
  ) -> Tensor {
    decoder.forward(
      batch.decoderInputIDs, batch: batch.batchSize, length: batch.targetLength, keep: batch.decoderKeep,
      memory: memory, memoryKeep: batch.sourceKeep, taps: taps, dropout: dropout)
  }

  /// Teacher-forced logits `[B, T, V]`.
  public func forward(
    _ batch: Seq2SeqBatch, encoderTaps: StackTaps? = nil, decoderTaps: StackTaps? = nil,
    dropout: ((Tensor) -> Tensor)? = nil
  ) -> Tensor {
    let memory = encode(batch, taps: encoderTaps, dropout: dropout)
    return logits(decode(batch, memory: memory, taps: decoderTaps, dropout: dropout))
  }

  /// Mean cross-entropy of `logits` `[B, T, V]` against the batch's labels.
  public func loss(logits: Tensor, batch: Seq2SeqBatch, labelSmoothing: Float = 0) -> Tensor {
    logits.reshaped([-1, vocabularySize]).crossEntropy(targets: batch.labels, labelSmoothing: labelSmoothing)
  }

  /// Parameters inside the blocks of both stacks (the "Transformer-layer" parameters).
  public var layerParameterCount: Int {
    (encoder.blocks + decoder.blocks).reduce(0) { $0 + $1.parameterCount }
  }
}
