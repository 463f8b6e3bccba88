import Foundation
import ModularCompression
import Seq2SeqModels
import XCTest

final class PlanTests: XCTestCase {
  // MARK: Enumeration

  func spans(_ stack: StackRole, depth: Int, _ granularities: [Int]) -> [ModuleSpan] {
    granularities.flatMap { ModuleSpan.spans(stack: stack, depth: depth, granularity: $0) }
  }

  func testCoverCountsOnSmallDepths() {
    // Depth 4, g2: LLLL, M L L, L L M... counted by hand: 4; adding g4: 5.
    XCTAssertEqual(PlanEnumeration.coverCount(stack: .encoder, depth: 4, modules: spans(.encoder, depth: 4, [2])), 4)
    XCTAssertEqual(PlanEnumeration.coverCount(stack: .encoder, depth: 4, modules: spans(.encoder, depth: 4, [2, 4])), 5)
    // Depth 6 with g2 and g3 spans: f(0) = f(1) + f(2) + f(3) = 5 + 5 + 3 = 13.
    XCTAssertEqual(PlanEnumeration.coverCount(stack: .decoder, depth: 6, modules: spans(.decoder, depth: 6, [2, 3])), 13)
    // Modules of the other stack do not count.
    XCTAssertEqual(PlanEnumeration.coverCount(stack: .decoder, depth: 4, modules: spans(.encoder, depth: 4, [2])), 1)
    XCTAssertEqual(
      PlanEnumeration.covers(stack: .encoder, depth: 4, modules: spans(.encoder, depth: 4, [2])).map { $0.map(\.description) },
      [["L0", "L1", "L2", "L3"], ["L0", "L1", "M2[2-3]"], ["M2[0-1]", "L2", "L3"], ["M2[0-1]", "M2[2-3]"]])
  }

  func testEveryListedCoverIsValidAndDistinctAtDepth12() {
    let modules = spans(.encoder, depth: 12, [2, 3, 4, 6])
    let covers = PlanEnumeration.covers(stack: .encoder, depth: 12, modules: modules)
    XCTAssertEqual(covers.count, PlanEnumeration.coverCount(stack: .encoder, depth: 12, modules: modules))
    XCTAssertEqual(Set(covers).count, covers.count)
    for cover in covers {
      XCTAssertTrue(AssemblyPlan(encoder: cover, decoder: []).isCover(encoderDepth: 12, decoderDepth: 0), "\(cover)")
    }
    let all = modules + spans(.decoder, depth: 12, [2, 3, 4, 6])
    XCTAssertEqual(PlanEnumeration.planCount(encoderDepth: 12, decoderDepth: 12, modules: all), covers.count * covers.count)
    // Depth 24 is counted without listing.
    XCTAssertGreaterThan(PlanEnumeration.coverCount(stack: .decoder, depth: 24, modules: spans(.decoder, depth: 24, [2, 3, 4, 6])), covers.count)
  }

  // MARK: Ratio arithmetic

  func testRatioArithmeticOnAHandExample() {
    let encoderModule = ModuleSpan(stack: .encoder, granularity: 2, index: 1)
    let costs = LayerCosts(
      encoderDepth: 4, decoderDepth: 4, encoderLayerParameters: 10, decoderLayerParameters: 12, nonLayerParameters: 100,
      outputHeadParameters: 50, moduleParameters: [encoderModule: 8])
    let plan = AssemblyPlan(
      encoder: [.teacher(layer: 0), .teacher(layer: 1), .module(encoderModule)],
      decoder: [.module(ModuleSpan(stack: .decoder, granularity: 4, index: 0))])
    let cost = costs.cost(of: plan)
    XCTAssertEqual(cost.encoderLayerParameters, 28)
    XCTAssertEqual(cost.decoderLayerParameters, 12)  // default shape: one teacher decoder layer
    XCTAssertEqual(cost.layerParameters, 40)
    XCTAssertEqual(cost.teacherLayerParameters, 88)
    XCTAssertEqual(cost.totalParameters, 140)
    XCTAssertEqual(cost.teacherTotalParameters, 188)
    XCTAssertEqual(cost.layerParameterRatio, 2.2, accuracy: 1e-12)
    XCTAssertEqual(cost.totalParameterRatio, 188.0 / 140.0, accuracy: 1e-12)
    XCTAssertNil(cost.latencySpeedup)
    XCTAssertEqual(cost.estimatedDecodingFLOPsPerToken, 2 * (12 + 28 + 50))
    XCTAssertEqual(costs.cost(of: plan, sourceTokensPerGeneratedToken: 2).estimatedDecodingFLOPsPerToken, 2 * (12 + 56 + 50))
    let teacher = costs.cost(of: .teacher(encoderDepth: 4, decoderDepth: 4))
    XCTAssertEqual(teacher.layerParameterRatio, 1)
    XCTAssertEqual(teacher.totalParameterRatio, 1)
    // The three ratios are written together, the unmeasured speedup as null.
    let json = String(decoding: try! JSONEncoder().encode(cost), as: UTF8.self)
    XCTAssertTrue(json.contains("\"latency_speedup\":null"), json)
    XCTAssertEqual(try JSONDecoder().decode(PlanCost.self, from: Data(json.utf8)), cost)
    let withoutSpeedup = json.replacingOccurrences(of: "\"latency_speedup\":null,", with: "")
    XCTAssertEqual(try JSONDecoder().decode(PlanCost.self, from: Data(withoutSpeedup.utf8)), cost)
    // Latency tables are keyed by block kinds, written as text.
    XCTAssertEqual(BlockKind(id: "decoder.g3"), BlockKind(stack: .decoder, granularity: 3))
    XCTAssertEqual(BlockKind(id: "encoder.layer"), .teacherLayer(.encoder))
    XCTAssertEqual(BlockKind.teacherLayer(.decoder).description, "decoder.layer")
    XCTAssertNil(BlockKind(id: "encoder.g1"))
    XCTAssertNil(BlockKind(id: "middle.layer"))
  }

  // MARK: Strategies

  /// 4+4 layers of 10 parameters; modules g2 and g4 in both stacks; probe
  /// losses against a teacher loss of 1.0.
  func handPlanner(probed: Bool = true) -> AssemblyPlanner {
    let costs = LayerCosts(
      encoderDepth: 4, decoderDepth: 4, encoderLayerParameters: 10, decoderLayerParameters: 10, nonLayerParameters: 0)
    let losses: [String: Float] = [
      "encoder.g2.0": 1.5, "encoder.g2.1": 1.1, "encoder.g4.0": 1.05,
      "decoder.g2.0": 1.05, "decoder.g2.1": 1.3, "decoder.g4.0": 1.9,
    ]
    let modules = Dictionary(uniqueKeysWithValues: losses.map {
      (ModuleSpan(id: $0.key)!, ModuleFacts(parameters: 10, validationLoss: probed ? $0.value : nil))
    })
    return AssemblyPlanner(costs: costs, catalog: StaticModuleCatalog(modules, teacherValidationLoss: 1.0))
  }

  func testSpeedFirstCompressesTheDecoderFirst() throws {
    let planner = handPlanner()
    XCTAssertEqual(try planner.plan(strategy: .speedFirst, ratio: 2).plan.summary, "enc L0 L1 M2[2-3] | dec M4[0-3]")
    // 1.1x needs one block less: taken from the decoder.
    XCTAssertEqual(try planner.plan(strategy: .speedFirst, ratio: 1.1).plan.summary, "enc L0 L1 L2 L3 | dec L0 L1 M2[2-3]")
    XCTAssertEqual(try planner.plan(strategy: .speedFirst, ratio: 1.6).plan.summary, "enc L0 L1 L2 L3 | dec M4[0-3]")
    // Decoder layers larger than encoder layers (cross-attention), as in T5:
    // 2x = 50 of 100 parameters. Decoder first: 15 + 3·10 = 45 (2.22x); size-first
    // meets 2x exactly with 2 + 2 blocks.
    let uneven = AssemblyPlanner(
      costs: LayerCosts(encoderDepth: 4, decoderDepth: 4, encoderLayerParameters: 10, decoderLayerParameters: 15, nonLayerParameters: 0),
      catalog: StaticModuleCatalog(encoderDepth: 4, decoderDepth: 4, granularities: [2, 4]) { $0 == .encoder ? 10 : 15 })
    let speed = try uneven.plan(strategy: .speedFirst, ratio: 2)
    XCTAssertEqual(speed.plan.summary, "enc L0 L1 M2[2-3] | dec M4[0-3]")
    XCTAssertEqual(speed.cost.layerParameterRatio, 100.0 / 45, accuracy: 1e-12)
    let size = try uneven.plan(strategy: .sizeFirst, ratio: 2)
    XCTAssertEqual(size.plan.summary, "enc M2[0-1] M2[2-3] | dec M2[0-1] M2[2-3]")
    XCTAssertEqual(size.cost.layerParameterRatio, 2)
    XCTAssertGreaterThan(speed.estimatedSpeedup, size.estimatedSpeedup)
  }

  func testSizeFirstBalancesTheStacks() throws {
    let planner = handPlanner()
    let two = try planner.plan(strategy: .sizeFirst, ratio: 2)
    XCTAssertEqual(two.plan.summary, "enc M2[0-1] M2[2-3] | dec M2[0-1] M2[2-3]")
    XCTAssertEqual(two.cost.layerParameterRatio, 2)
    XCTAssertEqual(two.strategy, .sizeFirst)
    XCTAssertEqual(two.requestedRatio, 2)
    // 1.6x = 5 blocks of 8: 3 + 2 either way; the fixed order keeps the encoder larger.
    XCTAssertEqual(try planner.plan(strategy: .sizeFirst, ratio: 1.6).plan.summary, "enc L0 L1 M2[2-3] | dec M2[0-1] M2[2-3]")
    XCTAssertEqual(try planner.plan(strategy: .sizeFirst, ratio: 4).plan.summary, "enc M4[0-3] | dec M4[0-3]")
  }

  func testStrategiesReachTheRatioWithTheSmallestOvershoot() throws {
    let planner = handPlanner()
    for strategy in AssemblyStrategy.allCases {
      // 1.5x: 80/1.5 = 53.3 → 5 blocks (ratio 1.6), not fewer.
      let planned = try planner.plan(strategy: strategy, ratio: 1.5)
      XCTAssertEqual(planned.cost.layerParameters, 50, "\(strategy)")
      XCTAssertEqual(planned.cost.layerParameterRatio, 1.6, accuracy: 1e-12)
      // Exactly reachable ratios are met exactly.
      XCTAssertEqual(try planner.plan(strategy: strategy, ratio: 2).cost.layerParameterRatio, 2, "\(strategy)")
      XCTAssertEqual(try planner.plan(strategy: strategy, ratio: 1).plan, .teacher(encoderDepth: 4, decoderDepth: 4))
    }
  }

  func testParetoPicksTheBestPredictedQuality() throws {
    let planner = handPlanner()
    // 1.1x: one g2 module; decoder.g2.0 costs least (0.05).
    let light = try planner.plan(strategy: .pareto, ratio: 1.1)
    XCTAssertEqual(light.plan.summary, "enc L0 L1 L2 L3 | dec M2[0-1] L2 L3")
    XCTAssertEqual(light.predictedLossIncrease, 0.05, accuracy: 1e-6)
    // 2x: 4 blocks; encoder.g4.0 (0.05) with decoder.g2.0 (0.05) beats the
    // balanced (0.95) and decoder-first (1.0) plans.
    let two = try planner.plan(strategy: .pareto, ratio: 2)
    XCTAssertEqual(two.plan.summary, "enc M4[0-3] | dec M2[0-1] L2 L3")
    XCTAssertEqual(two.predictedLossIncrease, 0.1, accuracy: 1e-6)
    // A latency budget: decoder blocks run 32 times per sequence by default,
    // so 2x faster needs at most 2 decoder blocks.
    let fast = try planner.plan(strategy: .pareto, budget: .speedup(2))
    XCTAssertEqual(fast.plan.summary, "enc M4[0-3] | dec M2[0-1] M2[2-3]")
    XCTAssertGreaterThanOrEqual(fast.estimatedSpeedup, 2)
    XCTAssertNil(fast.requestedRatio)
    XCTAssertThrowsError(try planner.plan(strategy: .sizeFirst, budget: .speedup(2))) {
      XCTAssertEqual($0 as? AssemblyError, .budgetNotSupported(strategy: .sizeFirst))
    }
    // The front runs from the teacher (no loss) to the fastest plan.
    let front = planner.paretoFront()
    XCTAssertEqual(front.last?.plan, .teacher(encoderDepth: 4, decoderDepth: 4))
    XCTAssertEqual(front.first?.plan.summary, "enc M4[0-3] | dec M4[0-3]")
    XCTAssertTrue(zip(front, front.dropFirst()).allSatisfy {
      $0.estimatedSeconds <= $1.estimatedSeconds && $0.predictedLossIncrease > $1.predictedLossIncrease
    })
  }

  func testMeasuredLatencyChangesParetoChoice() throws {
    // Measured: every block costs the same, so the decoder is no dearer than
    // the encoder and a 2x speedup means at most 4 blocks, whichever stack.
    var latency = LatencyModel()
    latency.measuredSeconds = [.teacherLayer(.encoder): 1, .teacherLayer(.decoder): 1]
    let base = handPlanner()
    let planner = AssemblyPlanner(
      costs: base.costs, catalog: StaticModuleCatalog(base.modules, teacherValidationLoss: 1), latency: latency)
    XCTAssertEqual(planner.teacherSeconds, 8)
    XCTAssertEqual(try planner.plan(strategy: .pareto, budget: .speedup(2)).plan.summary, "enc M4[0-3] | dec M2[0-1] L2 L3")
  }

  func testUnprobedModulesArePenalisedByGranularity() {
    let g2 = ModuleSpan(stack: .encoder, granularity: 2, index: 0)
    let g4 = ModuleSpan(stack: .encoder, granularity: 4, index: 0)
    let probedG2 = ModuleSpan(stack: .decoder, granularity: 2, index: 0)
    let modules = [
      g2: ModuleFacts(parameters: 1), g4: ModuleFacts(parameters: 1), probedG2: ModuleFacts(parameters: 1, validationLoss: 1.4),
    ]
    let penalties = QualityModel(teacherValidationLoss: 1).penalties(modules)
    XCTAssertEqual(penalties[probedG2]!, 0.4, accuracy: 1e-6)
    XCTAssertEqual(penalties[g2]!, 0.4, accuracy: 1e-6)  // worst probed rate, 0.2 per layer, × 2
    XCTAssertEqual(penalties[g4]!, 0.8, accuracy: 1e-6)
    XCTAssertEqual(QualityModel().penalties([g4: ModuleFacts(parameters: 1)])[g4]!, 0.4, accuracy: 1e-9)
  }

  // MARK: Errors

  func testUnreachableRatioListsTheReachableOnes() {
    XCTAssertThrowsError(try handPlanner().plan(strategy: .sizeFirst, ratio: 5)) { error in
      XCTAssertEqual(
        error as? AssemblyError, .unreachableRatio(requested: 5, maximum: 4, reachable: [1, 1.14, 1.33, 1.6, 2, 2.67, 4]))
      XCTAssertEqual(
        "\(error)",
        "ratio 5 cannot be reached with this registry's modules: the largest layer-parameter ratio is 4; "
          + "reachable ratios: 1, 1.14, 1.33, 1.6, 2, 2.67, 4")
    }
    // Without modules only the teacher is reachable.
    let costs = handPlanner().costs
    let bare = AssemblyPlanner(costs: costs, catalog: StaticModuleCatalog([:]))
    XCTAssertEqual(bare.reachableRatios, [1])
    XCTAssertThrowsError(try bare.plan(strategy: .speedFirst, ratio: 1.1))
    XCTAssertThrowsError(try handPlanner().plan(strategy: .pareto, budget: .speedup(100))) {
      XCTAssertTrue("\($0)".contains("largest estimated speedup"), "\($0)")
    }
  }

  func testInvalidRatiosAndStrategies() {
    for ratio in [0.5, -1, .nan, .infinity] {
      XCTAssertThrowsError(try handPlanner().plan(strategy: .speedFirst, ratio: ratio)) {
        guard case .invalidRatio = $0 as? AssemblyError else { return XCTFail("\($0)") }
      }
    }
    XCTAssertThrowsError(try AssemblyStrategy(parsing: "fastest")) {
      XCTAssertEqual("\($0)", "unknown strategy 'fastest'; valid strategies: size-first, speed-first, pareto")
    }
    XCTAssertEqual(try AssemblyStrategy(parsing: "speed-first"), .speedFirst)
  }

  func testExplicitPlansAreValidated() {
    let planner = handPlanner()
    let g2 = PlanPiece.module(ModuleSpan(stack: .decoder, granularity: 2, index: 0))
    let teacherEncoder: [PlanPiece] = (0..<4).map { .teacher(layer: $0) }
    XCTAssertNoThrow(try planner.validate(AssemblyPlan(encoder: teacherEncoder, decoder: [g2, .teacher(layer: 2), .teacher(layer: 3)])))
    let missing = PlanPiece.module(ModuleSpan(stack: .decoder, granularity: 3, index: 0))
    XCTAssertThrowsError(try planner.validate(AssemblyPlan(encoder: teacherEncoder, decoder: [missing, .teacher(layer: 3)]))) {
      XCTAssertEqual(
        "\($0)", "module 'decoder.g3.0' is not in the registry; available: decoder.g2.0, decoder.g2.1, decoder.g4.0")
    }
    XCTAssertThrowsError(try planner.validate(AssemblyPlan(encoder: teacherEncoder, decoder: [g2, .teacher(layer: 3)]))) {
      XCTAssertEqual("\($0)", "invalid plan: decoder[1] (L3) starts at layer 3; the decoder needs layer 2 next")
    }
    XCTAssertThrowsError(try planner.validate(AssemblyPlan(encoder: teacherEncoder, decoder: [g2]))) {
      XCTAssertEqual("\($0)", "invalid plan: the decoder covers layers 0..<2 of the teacher's 4")
    }
    XCTAssertThrowsError(try planner.validate(AssemblyPlan(encoder: [g2, .teacher(layer: 2), .teacher(layer: 3)], decoder: []))) {
      XCTAssertTrue("\($0)".contains("a module of the decoder"), "\($0)")
    }
  }
}
