import Foundation
import Seq2SeqModels
import TensorCore

extension CompressionSettings {
  /// `embedding-ae`, `embedding-svd`: the shared token embedding stored as
  /// latents and a decoder, at the rank that keeps about `1 / ratio` of it
  /// (``EmbeddingCompression``); returns what it did, in words.
  func compressEmbedding(of model: any Seq2SeqModel, progress: (String, Int, Int) -> Void) throws -> String {
    let (table, headIsTied) = try EmbeddingCompression.table(of: model)
    let (vocabulary, width) = (table.shape[0], table.shape[1])
    let rank = try EmbeddingCompression.rank(vocabulary: vocabulary, width: width, ratio: ratio)
    let svd = try EmbeddingCompression.svdFactors(of: table, rank: rank)
    var factors = svd, how = "truncated SVD (\(SingularValueDecomposition.hasLAPACK ? "LAPACK" : "Jacobi"))", lossLine = ""
    if method == .embeddingAE {
      let trained = try EmbeddingAutoencoder.train(table: table, rank: rank, settings: AutoencoderSettings(steps: steps)) { done, total in
        progress("training the embedding autoencoder", done, total)
      }
      factors = trained.factors
      how = "a linear autoencoder (\(steps) Adam steps from the SVD start)"
      let svdLoss = withoutGradient { EmbeddingAutoencoder.loss(svd.table, table, exponent: EmbeddingAutoencoder.exponentEnd).item() }
      lossLine = String(format: "\ndirection-aware loss (α = 0.1): %.5f; truncated SVD at the same rank: %.5f", trained.loss, svdLoss)
    }
    try EmbeddingCompression.apply(factors, to: model)
    let cosine = withoutGradient { RowAutoencoder.meanCosine(factors.table, table).item() }
    let head = headIsTied
      ? "the head is tied: logits read the same decoded table"
      : "the head is untied (lm_head): it stays dense; only the input embedding is compressed"
    return """
      compressed the shared embedding [\(vocabulary) × \(width)] by \(how) to rank \(rank): \
      \(table.count.formatted()) → \(factors.storedCount.formatted()) floats (\(String(format: "%.2f", Double(table.count) / Double(factors.storedCount)))× fewer)
      \(head)
      table: relative error \(String(format: "%.3e", factors.table.relativeError(to: table))), mean cosine \(String(format: "%.4f", cosine))\(lossLine)
      """
  }
}
