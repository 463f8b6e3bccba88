import NeuralLayers
import TensorCore
import XCTest

@testable import Seq2SeqModels

final class MagnitudeMasksTests: XCTestCase {
  private func layer(_ values: [Float], rows: Int) -> Linear {
    Linear(weight: Parameter(Tensor(values, shape: [rows, values.count / rows])))
  }

  func testGlobalScopeRemovesTheSmallestWeightsOfAllLayers() {
    let layers = [("a", layer([0.1, -5, 3, -0.2], rows: 2)), ("b", layer([4, 0.05, -6, 2], rows: 2))]
    let masks = MagnitudeMasks.masks(for: layers, removing: 0.5, scope: .global)
    XCTAssertEqual(masks["a"]?.kept, [false, true, true, false])
    XCTAssertEqual(masks["b"]?.kept, [true, false, true, false])
    MagnitudeMasks.apply(masks, to: layers)
    XCTAssertEqual(layers[0].1.weight.value.scalars, [0, -5, 3, 0])
    XCTAssertEqual(layers[1].1.weight.value.scalars, [4, 0, -6, 0])
  }

  func testLayerScopeRemovesTheSameShareOfEachLayer() {
    let layers = [("a", layer([0.1, 0.2, 0.3, 0.4], rows: 1)), ("b", layer([10, 20, 30, 40], rows: 1))]
    let masks = MagnitudeMasks.masks(for: layers, removing: 0.5, scope: .layer)
    XCTAssertEqual(masks["a"]?.kept, [false, false, true, true])
    XCTAssertEqual(masks["b"]?.kept, [false, false, true, true])
    XCTAssertEqual(MagnitudeMasks.masks(for: layers, removing: 0.5, scope: .global)["b"]?.keptCount, 4)
  }

  func testRoundsPruneAShareOfWhatIsLeftAndTiesGoInOrder() {
    let layers = [("a", layer([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], rows: 2))]
    let first = MagnitudeMasks.masks(for: layers, removing: 0.2, scope: .global)
    XCTAssertEqual(first["a"]?.kept, [false, false] + Array(repeating: true, count: 8))
    // 20% of the 8 left is 1.6, rounded to 2: the next two in index order.
    let second = MagnitudeMasks.masks(for: layers, removing: 0.2, scope: .global, current: first)
    XCTAssertEqual(second["a"]?.kept, [false, false, false, false] + Array(repeating: true, count: 6))
  }

  func testNaNIsNeverRemovedFirst() {
    let layers = [("a", layer([.nan, 0.5, 2, 3], rows: 1))]
    XCTAssertEqual(MagnitudeMasks.masks(for: layers, removing: 0.25, scope: .layer)["a"]?.kept, [true, false, true, true])
  }
}
