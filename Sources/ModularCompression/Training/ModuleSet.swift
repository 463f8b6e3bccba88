import NeuralLayers
import Seq2SeqModels
import TensorCore

/// The modules one training run produces, one per aligned span of each
/// granularity in each stack. Its parameter keys are `<module id>.<block key>`
/// (`encoder.g3.1.layer.0.SelfAttention.q.weight`), so the whole set saves,
/// resumes and feeds one optimizer like any parameter container.
public final class ModuleSet: ParameterContainer {
  public let blocks: [ModuleSpan: any TransformerBlock]
  /// Granularities that leave some layers of a stack without a module, as
  /// readable notes (`granularity 4 covers decoder layers 0..<8; 8..<10 have none`).
  public let notes: [String]

  /// A module for every aligned span of `granularities` that fits the teacher,
  /// each started as `initialisation` says.
  public init(teacher: any Seq2SeqModel, granularities: [Int], initialisation: ModuleInitialisation, seed: UInt64) {
    var generator = SeededRandom(seed: seed, stream: 13)
    var blocks: [ModuleSpan: any TransformerBlock] = [:]
    var notes: [String] = []
    for stack in [teacher.encoder, teacher.decoder] {
      for g in granularities.sorted() {
        let spans = ModuleSpan.spans(stack: stack.role, depth: stack.depth, granularity: g)
        let uncovered = ModuleSpan.unfitted(depth: stack.depth, granularity: g)
        if spans.isEmpty {
          notes.append("granularity \(g) does not fit the \(stack.depth)-layer \(stack.role.rawValue): no modules")
        } else if !uncovered.isEmpty {
          notes.append(
            "granularity \(g) covers \(stack.role.rawValue) layers 0..<\(uncovered.lowerBound); "
              + "layers \(uncovered.lowerBound)..<\(uncovered.upperBound) have no g\(g) module")
        }
        for span in spans {
          blocks[span] = initialisation.sourceLayer(of: span).map { stack.blocks[$0].copy() }
            ?? stack.makeBlock(using: &generator)
        }
      }
    }
    self.blocks = blocks
    self.notes = notes
  }

  /// Every span, in registry order.
  public var spans: [ModuleSpan] { blocks.keys.sorted() }

  public func namedParameters() -> [(key: String, parameter: Parameter)] {
    spans.flatMap { joinKeys($0.id, blocks[$0]!.namedParameters()) }
  }
}
