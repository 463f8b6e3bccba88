import Seq2SeqModels
import TensorCore

/// Makes a data-parallel step of module training equal to one process's.
///
/// The loop weights each process's loss by its share of the step's real
/// target tokens, which makes token means exact (cross-entropy, KL). The
/// hidden-state errors divide by `Σ(t·m)²` and the attention errors by the
/// real positions, sums of the process's own rows: those must be the whole
/// batch's sums instead, taken over the processes and divided by the token
/// share the loop multiplies back. One process divides by its own sums.
final class ShardNormalizers {
  private let communicator: any Communicator
  private var tokenShare: Float = 1

  init(_ communicator: any Communicator = SingleProcessCommunicator()) {
    self.communicator = communicator
  }

  /// Called before each step's loss with this process's share of the batch.
  func start(_ batch: Seq2SeqBatch) {
    tokenShare = batch.tokenShare
  }

  /// What to divide a term by, given this process's own divisor `local`.
  func divisor(_ local: Float) -> Float {
    communicator.size > 1 ? sum(local) * tokenShare : local
  }

  /// The sum over the processes; a failed exchange stops every process (the others wait for it).
  private func sum(_ value: Float) -> Float {
    do { return try communicator.allReduceSum([value])[0] } catch {
      communicator.abort("module training: \(error)", code: 1)
    }
  }
}
