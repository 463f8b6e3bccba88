import Foundation
import Seq2SeqModels

/// Covers of one stack by teacher layers and module spans.
///
/// The number of covers grows exponentially with depth, so counting uses
/// dynamic programming and listing is lazy (``forEachCover``); the strategies
/// never list covers, they search by cost (``AssemblyPlanner``).
public enum PlanEnumeration {
  /// The pieces that may start at each layer of a stack of `depth`: the
  /// teacher layer first, then the modules of `stack` that start there and fit,
  /// by granularity. Modules of the other stack are ignored.
  public static func startingPieces(stack: StackRole, depth: Int, modules: some Sequence<ModuleSpan>) -> [[PlanPiece]] {
    var pieces = (0..<depth).map { [PlanPiece.teacher(layer: $0)] }
    for span in Set(modules).sorted() where span.stack == stack && span.end <= depth {
      pieces[span.start].append(.module(span))
    }
    return pieces
  }

  /// The number of covers of a stack of `depth` (saturates at `Int.max`).
  public static func coverCount(stack: StackRole, depth: Int, modules: some Sequence<ModuleSpan>) -> Int {
    let starting = startingPieces(stack: stack, depth: depth, modules: modules)
    var count = [Int](repeating: 0, count: depth + 1)  // count[i]: covers of layers i..<depth
    count[depth] = 1
    for start in stride(from: depth - 1, through: 0, by: -1) {
      for piece in starting[start] {
        let (sum, overflow) = count[start].addingReportingOverflow(count[piece.layers.upperBound])
        count[start] = overflow ? Int.max : sum
      }
    }
    return count[0]
  }

  /// The number of plans (encoder covers × decoder covers, saturating).
  public static func planCount(encoderDepth: Int, decoderDepth: Int, modules: some Sequence<ModuleSpan>) -> Int {
    let spans = Array(modules)
    let (product, overflow) = coverCount(stack: .encoder, depth: encoderDepth, modules: spans)
      .multipliedReportingOverflow(by: coverCount(stack: .decoder, depth: decoderDepth, modules: spans))
    return overflow ? Int.max : product
  }

  /// Calls `body` with every cover, in a fixed order (teacher layer before
  /// modules at each position, modules by granularity), holding one cover at a
  /// time. `body` returns false to stop early.
  public static func forEachCover(
    stack: StackRole, depth: Int, modules: some Sequence<ModuleSpan>, _ body: ([PlanPiece]) throws -> Bool
  ) rethrows {
    let starting = startingPieces(stack: stack, depth: depth, modules: modules)
    var current: [PlanPiece] = []
    func extend(from start: Int) throws -> Bool {
      if start == depth { return try body(current) }
      for piece in starting[start] {
        current.append(piece)
        defer { current.removeLast() }
        guard try extend(from: piece.layers.upperBound) else { return false }
      }
      return true
    }
    _ = try extend(from: 0)
  }

  /// Every cover, listed (for small depths and tests).
  public static func covers(stack: StackRole, depth: Int, modules: some Sequence<ModuleSpan>) -> [[PlanPiece]] {
    var all: [[PlanPiece]] = []
    forEachCover(stack: stack, depth: depth, modules: modules) {
      all.append($0)
      return true
    }
    return all
  }
}
