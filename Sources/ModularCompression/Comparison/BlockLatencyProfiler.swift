import Foundation
import Seq2SeqModels
import TensorCore

/// Measures the seconds one teacher layer of each stack adds to a batch-1
/// greedy generation, so that the `pareto` planner works with measured
/// latency instead of parameter counts.
///
/// An encoder layer runs once over `sourceLength` tokens; a decoder layer
/// runs `generatedTokens` times, one new token each, attending to its growing
/// KV cache and to `sourceLength` encoder positions. Only the block calls are
/// timed: masks and T5's position bias belong to the stack and cost the same
/// whatever its depth. Each stack is timed until `secondsPerStack` have passed
/// (at least `minimumRuns`, one untimed warm-up first) and the median run
/// counts, so a profile takes a few hundred milliseconds.
public struct BlockLatencyProfiler: Sendable {
  /// Source tokens `S` of the simulated generation.
  public var sourceLength: Int
  /// Generated tokens `G`: how many decoder steps one generation makes.
  public var generatedTokens: Int
  /// Time spent measuring each stack.
  public var secondsPerStack: Double
  public var minimumRuns: Int

  public init(sourceLength: Int, generatedTokens: Int, secondsPerStack: Double = 0.1, minimumRuns: Int = 3) {
    self.sourceLength = max(1, sourceLength)
    self.generatedTokens = max(1, generatedTokens)
    self.secondsPerStack = secondsPerStack
    self.minimumRuns = max(1, minimumRuns)
  }

  /// A latency model with the measured seconds of one teacher layer of each
  /// stack; modules are scaled from them by their parameters.
  public func profile(_ teacher: any Seq2SeqModel) -> LatencyModel {
    var measured: [BlockKind: Double] = [:]
    for stack in [teacher.encoder, teacher.decoder] where !stack.blocks.isEmpty {
      measured[.teacherLayer(stack.role)] = seconds(of: stack, width: teacher.modelWidth)
    }
    return LatencyModel(measuredSeconds: measured, generatedTokens: Double(generatedTokens))
  }

  /// Median seconds of one pass of `stack`'s first block through a generation.
  func seconds(of stack: any LayerStack, width: Int) -> Double {
    var generator = SeededRandom(seed: 17)
    let block = stack.blocks[0]
    let pass: () -> Void
    switch stack.role {
    case .encoder:
      let hidden = Tensor.normal([1, sourceLength, width], using: &generator)
      let context = stack.context(
        batch: 1, queries: sourceLength, pastLength: 0, keyKeep: nil, memory: nil, memoryKeep: nil, dropout: nil)
      pass = { _ = block(hidden, context: context, cache: nil, taps: nil) }
    case .decoder:
      let memory = Tensor.normal([1, sourceLength, width], using: &generator)
      let token = Tensor.normal([1, 1, width], using: &generator)
      let contexts = (0..<generatedTokens).map {
        stack.context(batch: 1, queries: 1, pastLength: $0, keyKeep: nil, memory: memory, memoryKeep: nil, dropout: nil)
      }
      pass = {
        let cache = BlockCache()
        for context in contexts { _ = block(token, context: context, cache: cache, taps: nil) }
      }
    }
    return withoutGradient {
      pass()  // warm-up: first-touch allocations and BLAS start-up
      var times: [Double] = []
      let start = DispatchTime.now().uptimeNanoseconds
      while times.count < minimumRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < secondsPerStack {
        let runStart = DispatchTime.now().uptimeNanoseconds
        pass()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - runStart) / 1e9)
        if times.count >= 1000 { break }
      }
      return times.sorted()[times.count / 2]
    }
  }
}
