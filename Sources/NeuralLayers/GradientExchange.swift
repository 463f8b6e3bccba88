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
    let exchanged = parameters.indices.filter { present[$0] > 0 }.map { parameters[$0] }
    var buffer = flattened(exchanged.map(\.grad), counts: exchanged.map(\.value.count), scale: share)
    buffer.append(loss * share)
    try buffer.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0.baseAddress!, count: $0.count) }
    for (parameter, gradient) in zip(exchanged, tensors(in: buffer, shapes: exchanged.map(\.shape))) {
      parameter.value.setGrad(gradient)
    }
    return buffer[buffer.count - 1]
  }

  /// Gives every process the first process's parameter values, so all
  /// replicas start alike whatever each initialised or loaded.
  public static func broadcastValues(_ parameters: [Parameter], over communicator: any Communicator) throws {
    guard communicator.size > 1 else { return }
    var buffer = flattened(parameters.map(\.value), counts: parameters.map(\.value.count), scale: 1)
    try buffer.withUnsafeMutableBytes { try communicator.broadcast($0.baseAddress!, count: $0.count, root: 0) }
    guard !communicator.isLeader else { return }
    for (parameter, value) in zip(parameters, tensors(in: buffer, shapes: parameters.map(\.shape))) {
      parameter.value = value
    }
  }

  /// `tensors`' values times `scale`, one after another; a missing tensor is `count` zeros.
  private static func flattened(_ tensors: [Tensor?], counts: [Int], scale: Float) -> [Float] {
    var buffer = [Float](repeating: 0, count: counts.reduce(0, +))
    var offset = 0
    for (tensor, count) in zip(tensors, counts) {
      tensor?.withValues { values in for i in 0..<count { buffer[offset + i] = values[i] * scale } }
      offset += count
    }
    return buffer
  }

  /// The tensors of `shapes` read back, in order, from the front of `buffer`.
  private static func tensors(in buffer: [Float], shapes: [[Int]]) -> [Tensor] {
    var offset = 0
    return shapes.map { shape in
      let count = shape.reduce(1, *)
      defer { offset += count }
      return Tensor(Array(buffer[offset..<(offset + count)]), shape: shape)
    }
  }
}
