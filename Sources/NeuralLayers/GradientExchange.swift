import TensorCore

/// What data-parallel training exchanges between processes: gradients after
/// each backward pass, and the parameters once at the start.
public enum GradientExchange {
  /// Sums `share`·gradient over the processes into every parameter, and
  /// `share`·`loss` into the returned loss. With each process's share its
  /// part of the batch's real tokens, the sum is the whole batch's
  /// token-weighted mean. A parameter with a gradient on any process gets
  /// one on every process (zeros where it had none), so all optimizers step alike.
  public static func combine(
    _ parameters: [Parameter], share: Float, loss: Float, over communicator: any Communicator
  ) throws -> Float {
    let present = try communicator.allReduceSum(parameters.map { $0.grad == nil ? 0 : 1 })
    let exchanged = parameters.indices.filter { present[$0] > 0 }
    let total = exchanged.reduce(0) { $0 + parameters[$1].value.count }
    var buffer = [Float](repeating: 0, count: total + 1)
    var offset = 0
    for index in exchanged {
      let parameter = parameters[index]
      if let grad = parameter.grad {
        grad.withValues { values in for i in 0..<values.count { buffer[offset + i] = values[i] * share } }
      }
      offset += parameter.value.count
    }
    buffer[total] = loss * share
    try buffer.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0.baseAddress!, count: $0.count) }
    offset = 0
    for index in exchanged {
      let parameter = parameters[index]
      let count = parameter.value.count
      parameter.value.setGrad(Tensor(Array(buffer[offset..<(offset + count)]), shape: parameter.shape))
      offset += count
    }
    return buffer[total]
  }

  /// Gives every process the first process's parameter values, so all
  /// replicas start alike whatever each initialised or loaded.
  public static func broadcastValues(_ parameters: [Parameter], over communicator: any Communicator) throws {
    guard communicator.size > 1 else { return }
    let total = parameters.reduce(0) { $0 + $1.value.count }
    var buffer = [Float](repeating: 0, count: total)
    var offset = 0
    for parameter in parameters {
      parameter.value.withValues { values in for i in 0..<values.count { buffer[offset + i] = values[i] } }
      offset += parameter.value.count
    }
    try buffer.withUnsafeMutableBytes { try communicator.broadcast($0.baseAddress!, count: $0.count, root: 0) }
    guard !communicator.isLeader else { return }
    offset = 0
    for parameter in parameters {
      let count = parameter.value.count
      parameter.value = Tensor(Array(buffer[offset..<(offset + count)]), shape: parameter.shape)
      offset += count
    }
  }
}
