/// One recorded operation (or one leaf) of the reverse-mode tape.
///
/// Interior nodes hold a closure that maps the gradient of their output to the
/// gradients of their inputs; leaves accumulate their gradient in ``grad``.
/// After ``Tensor/backward(_:)`` the closures are dropped, which frees the graph.
public final class AutogradNode: @unchecked Sendable {
  /// The gradient accumulated so far (leaves keep it across backward passes).
  public internal(set) var grad: Tensor?
  let isLeaf: Bool
  let shape: [Int]
  var inputs: [AutogradNode?]
  var backwardRule: ((Tensor) -> [Tensor?])?

  init(leafShape shape: [Int]) {
    isLeaf = true
    self.shape = shape
    inputs = []
  }

  init(shape: [Int], inputs: [AutogradNode?], backwardRule: @escaping (Tensor) -> [Tensor?]) {
    isLeaf = false
    self.shape = shape
    self.inputs = inputs
    self.backwardRule = backwardRule
  }

  func accumulate(_ gradient: Tensor) {
    precondition(gradient.shape == shape, "gradient shape \(gradient.shape) != \(shape)")
    guard var existing = grad else {
      grad = gradient
      return
    }
    grad = nil
    // Add in place when nothing else shares the accumulated buffer (a gradient
    // passed through unchanged may be shared with another node's): no new
    // buffer for every extra use of a tensor (tied embeddings, residuals).
    if isKnownUniquelyReferenced(&existing.storage) && existing.node == nil {
      let target = existing.storage.pointer, source = gradient.storage.pointer
      parallelChunks(existing.count) { range in
        for i in range { target[i] += source[i] }
      }
      grad = existing
    } else {
      grad = existing.adding(gradient)
    }
  }
}

/// Whether operations record themselves on the tape.
///
/// Tessera builds graphs from one thread at a time (kernels parallelise inside
/// an op), so a process-wide switch is enough.
public enum GradientMode {
  nonisolated(unsafe) static var disabledDepth = 0

  /// True unless inside ``withoutGradient(_:)``.
  public static var isEnabled: Bool { disabledDepth == 0 }
}

/// Runs `body` without recording operations (inference, teacher passes, updates).
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
  GradientMode.disabledDepth += 1
  defer { GradientMode.disabledDepth -= 1 }
  return try body()
}

extension Tensor {
  /// Whether gradients flow to this tensor. Setting `true` makes it a leaf
  /// whose gradient accumulates in ``grad``; setting `false` detaches it.
  public var requiresGrad: Bool {
    get { node != nil }
    set {
      if newValue {
        if node == nil || node?.isLeaf == false { node = AutogradNode(leafShape: shape) }
      } else {
        node = nil
      }
    }
  }

  /// The accumulated gradient of a leaf, or nil before any backward pass.
  public var grad: Tensor? { node?.grad }

  /// Clears the accumulated gradient of a leaf.
  public func zeroGrad() { node?.grad = nil }

  /// Replaces the accumulated gradient of a leaf (gradients combined across processes).
  public func setGrad(_ gradient: Tensor) {
    precondition(gradient.shape == shape, "gradient shape \(gradient.shape) != \(shape)")
    node?.grad = gradient
  }

  /// Multiplies the accumulated gradient of a leaf by `factor` (gradient clipping).
  public func scaleGrad(by factor: Float) {
    guard let grad = node?.grad else { return }
    node?.grad = withoutGradient { grad.scaled(by: factor) }
  }

  /// The same values, cut from the graph.
  public func detached() -> Tensor {
    var copy = self
    copy.node = nil
    return copy
  }

  /// Attaches a backward rule to `result` when gradient recording is on and
  /// any input takes part in the graph. `rule` gets the gradient of `result`
  /// and returns one gradient (or nil) per input, each of that input's shape.
  public static func record(
    _ result: inout Tensor, inputs: [Tensor], rule: @escaping (Tensor) -> [Tensor?]
  ) {
    guard GradientMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return }
    result.node = AutogradNode(shape: result.shape, inputs: inputs.map(\.node), backwardRule: rule)
  }

  /// Back-propagates from this tensor. A scalar gets a seed of 1; otherwise
  /// pass `seed` with this tensor's shape. Leaves accumulate into ``grad``.
  public func backward(_ seed: Tensor? = nil) {
    guard let root = node else {
      preconditionFailure("backward() on a tensor that does not require gradients")
    }
    let start = seed ?? {
      precondition(count == 1, "backward() without a seed needs a scalar, shape is \(shape)")
      return Tensor(repeating: 1, shape: shape)
    }()
    let order = Tensor.topologicalOrder(from: root)
    withoutGradient {
      root.accumulate(start)
      for current in order.reversed() {
        guard let rule = current.backwardRule, let outputGrad = current.grad else { continue }
        let inputGrads = rule(outputGrad)
        for (input, inputGrad) in zip(current.inputs, inputGrads) {
          if let input, let inputGrad { input.accumulate(inputGrad) }
        }
        // Free the graph as we go: interior gradients and closures are done.
        current.grad = nil
        current.backwardRule = nil
        current.inputs = []
      }
    }
  }

  /// Nodes in an order where every node comes after its inputs.
  static func topologicalOrder(from root: AutogradNode) -> [AutogradNode] {
    var order: [AutogradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(AutogradNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (current, next) = stack.popLast() {
      if next < current.inputs.count {
        stack.append((current, next + 1))
        if let input = current.inputs[next], visited.insert(ObjectIdentifier(input)).inserted {
          stack.append((input, 0))
        }
      } else {
        order.append(current)
      }
    }
    return order
  }
}
