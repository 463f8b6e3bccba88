import Foundation
import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

final class StructuredPruningTests: XCTestCase {
  /// Zeroes head `head` of every attention and unit `unit(layer)` of each feed-forward.
  private func silence(_ model: any Seq2SeqModel, head: Int, unit: (Int) -> Int) throws {
    for stack in try StructuredPruning.stacks(of: model) {
      for (_, attention) in stack.attentions {
        let range = (head * attention.headWidth)..<((head + 1) * attention.headWidth)
        zero(attention.query, rows: range)
        zero(attention.key, rows: range)
        zero(attention.value, rows: range)
        zero(attention.output, columns: range)
      }
      for (index, (_, feedForward)) in stack.feedForwards.enumerated() {
        for layer in [feedForward.gate, feedForward.input].compactMap({ $0 }) { zero(layer, rows: unit(index)..<(unit(index) + 1)) }
        zero(feedForward.output, columns: unit(index)..<(unit(index) + 1))
      }
    }
  }

  private func zero(_ layer: any LinearLayer, rows: Range<Int>? = nil, columns: Range<Int>? = nil) {
    let linear = layer as! Linear
    var weight = linear.weight.value.detached()
    let width = weight.shape[1]
    weight.withMutableValues { values in
      for index in values.indices where rows?.contains(index / width) ?? columns!.contains(index % width) { values[index] = 0 }
    }
    linear.weight.value = weight
    if let rows, let bias = linear.bias {
      var values = bias.value.detached()
      values.withMutableValues { for row in rows { $0[row] = 0 } }
      bias.value = values
    }
  }

  func testRemovingHeadsAndUnitsThatAreZeroKeepsTheLogits() throws {
    var generator = SeededRandom(seed: 3)
    let models: [any Seq2SeqModel] = [
      T5Model(TinyModels.t5(gated: true, tied: false, encoderLayers: 2, decoderLayers: 2), using: &generator),
      T5Model(TinyModels.t5(gated: false, encoderLayers: 2, decoderLayers: 2), using: &generator),
    ]
    for model in models {
      try silence(model, head: 1, unit: { 3 + $0 })
      let batch = TinyModels.copyBatch()
      let before = withoutGradient { model.forward(batch) }
      // Two heads → one, 32 units → 31 (0.5 · 2 heads = 1; 1/32 of the units rounds to 1).
      let plan = try StructuredPruning.plan(for: model, sparsity: 0.5, targets: [.attention])
      XCTAssertEqual(plan.heads[.encoder], [0])
      XCTAssertEqual(plan.heads[.decoder], [0])
      let units = try StructuredPruning.plan(for: model, sparsity: 1.0 / 32, targets: [.ffn]).units
      XCTAssertEqual(units["encoder.block.1.layer.1.DenseReluDense"], (0..<32).filter { $0 != 4 }, "units are chosen per layer")
      let headsPruned = try StructuredPruning.apply(plan, to: model)
      let pruned = try StructuredPruning.apply(
        StructuredPruning.Plan(heads: plan.heads, units: units), to: model)
      XCTAssertEqual(try StructuredPruning.sizes(of: pruned), BlockSizes(heads: [.encoder: 1, .decoder: 1], feedForwardWidths: [.encoder: 31, .decoder: 31]))
      for smaller in [headsPruned, pruned] {
        let after = withoutGradient { smaller.forward(batch) }
        XCTAssertLessThanOrEqual(relativeMaxError(after, before), 1e-5)
      }
      // The relative position bias keeps the kept head's column.
      let table = try XCTUnwrap(pruned.stateDictionary()["encoder.relative_attention_bias.weight"])
      let original = try XCTUnwrap(model.stateDictionary()["encoder.relative_attention_bias.weight"])
      XCTAssertEqual(table.shape, [8, 1])
      XCTAssertEqual(table.scalars, stride(from: 0, to: 16, by: 2).map { original.scalars[$0] })
    }
  }

  func testBartPrunesUnitsPerStackAndRefusesHeads() throws {
    var generator = SeededRandom(seed: 4)
    var config = TinyModels.bart(encoderLayers: 2, decoderLayers: 2)
    config.decoderFfnDim = 16
    let model = BartModel(config, using: &generator)
    try silence(model, head: 0, unit: { $0 })
    let batch = TinyModels.copyBatch(eos: 2, pad: 1, start: 2)
    let before = withoutGradient { model.forward(batch) }
    XCTAssertThrowsError(try StructuredPruning.prune(model, sparsity: 0.5, targets: [.attention, .ffn])) { error in
      XCTAssertTrue("\(error)".contains("BART derives its head width from d_model / heads"), "\(error)")
    }
    // 1/32 of 32 units is 1, of 16 it is 0.5, which rounds to 1 too.
    let pruned = try StructuredPruning.prune(model, sparsity: 1.0 / 32, targets: [.ffn]).model
    XCTAssertEqual(try StructuredPruning.sizes(of: pruned).feedForwardWidths, [.encoder: 31, .decoder: 15])
    XCTAssertLessThanOrEqual(relativeMaxError(withoutGradient { pruned.forward(batch) }, before), 1e-5)
    let json = try JSONSerialization.jsonObject(with: pruned.configurationJSON()) as! [String: Any]
    XCTAssertEqual(json["encoder_ffn_dim"] as? Int, 31)
    XCTAssertEqual(json["decoder_ffn_dim"] as? Int, 15)
  }

  func testHeadsAreChosenBySummedImportanceOverTheStack() throws {
    var generator = SeededRandom(seed: 5)
    var config = TinyModels.t5(encoderLayers: 2, decoderLayers: 1)
    config.numHeads = 4
    let model = T5Model(config, using: &generator)
    let stacks = try StructuredPruning.stacks(of: model)
    // Head 2 is strongest in layer 0 only, head 3 strong in both: the sum picks 3, then 2.
    for (index, (_, attention)) in stacks[0].attentions.enumerated() {
      for (head, scale) in [(0, 0.1), (1, 0.1), (2, index == 0 ? 4.0 : 0.1), (3, 3.0)] as [(Int, Float)] {
        scaleHead(attention, head: head, by: scale)
      }
    }
    XCTAssertEqual(try StructuredPruning.plan(for: model, sparsity: 0.5, targets: [.attention]).heads[.encoder], [2, 3])
    XCTAssertEqual(try StructuredPruning.plan(for: model, sparsity: 0.75, targets: [.attention]).heads[.encoder], [3])
  }

  private func scaleHead(_ attention: MultiHeadAttention, head: Int, by scale: Float) {
    let range = (head * attention.headWidth)..<((head + 1) * attention.headWidth)
    for (index, layer) in [attention.query, attention.key, attention.value, attention.output].enumerated() {
      let linear = layer as! Linear
      var weight = linear.weight.value.detached()
      let width = weight.shape[1]
      weight.withMutableValues { values in
        for i in values.indices where range.contains(index < 3 ? i / width : i % width) { values[i] *= scale }
      }
      linear.weight.value = weight
    }
  }

  func testRefusesSparsitiesThatRemoveEverythingAndLayersThatAreNotDense() throws {
    var generator = SeededRandom(seed: 6)
    let model = T5Model(TinyModels.t5(encoderLayers: 1, decoderLayers: 1), using: &generator)
    XCTAssertThrowsError(try StructuredPruning.plan(for: model, sparsity: 0.75, targets: [.attention])) { error in
      XCTAssertEqual(error as? StructuredPruningError, .removesEverything(what: "attention heads", count: 2, sparsity: 0.75))
    }
    try LowRankCompression.factorise(model, ratio: 2, targets: [.ffn])
    XCTAssertThrowsError(try StructuredPruning.plan(for: model, sparsity: 0.5, targets: [.attention])) { error in
      XCTAssertEqual(error as? StructuredPruningError, .notDense(key: "encoder.block.0.layer.1.DenseReluDense.wi"))
    }
  }

  func testAnAssemblyWithFewerBlocksPrunesAndKeepsItsDepth() throws {
    var generator = SeededRandom(seed: 7)
    let model = T5Model(TinyModels.t5(encoderLayers: 2, decoderLayers: 4), using: &generator)
    model.decoder.blocks = Array(model.decoder.blocks.prefix(2))
    let pruned = try StructuredPruning.prune(model, sparsity: 0.5, targets: [.attention, .ffn]).model
    XCTAssertEqual(pruned.decoder.depth, 2)
    XCTAssertEqual(try StructuredPruning.sizes(of: pruned), BlockSizes(heads: [.encoder: 1, .decoder: 1], feedForwardWidths: [.encoder: 16, .decoder: 16]))
  }
}
