import NeuralLayers
import TensorCore

/// A decoder block whose cross-attention keys and values are computed once per source.
protocol CrossAttendingBlock {
  var crossAttention: MultiHeadAttention? { get }
}

extension T5Block: CrossAttendingBlock {}
extension BartBlock: CrossAttendingBlock {}

/// What one greedy decoding step reads from memory.
public enum DecodingFootprint {
  /// Bytes of weights one decoding step reads: every decoder layer except the
  /// cross-attention keys and values (computed once, from the encoder
  /// output), plus the head. Quantized layers count their stored bytes.
  public static func weightBytesPerToken(of model: any Seq2SeqModel) -> Int {
    var bytes = 0
    for block in model.decoder.blocks {
      let onceOnly = (block as? CrossAttendingBlock)?.crossAttention.map { [$0.key, $0.value] } ?? []
      for (_, layer) in LinearLayers.all(in: block) where !onceOnly.contains(where: { $0 === layer }) {
        bytes += storedBytes(of: layer)
      }
    }
    if let holder = model as? any SharedEmbeddingHead {
      bytes += holder.head.map(storedBytes) ?? 4 * holder.shared.weight.value.count
    }
    return bytes
  }

  /// Bytes of a linear layer's weights and bias as stored.
  static func storedBytes(of layer: any LinearLayer) -> Int {
    let parameters = layer.namedParameters().reduce(0) { $0 + 4 * $1.parameter.value.count }
    guard let quantized = layer as? any QuantizedLinearLayer else { return parameters }
    return parameters + quantized.storedWeights().reduce(0) { $0 + $1.tensor.count * $1.dtype.byteSize }
  }
}
