import Foundation
import Seq2SeqModels

/// What a block costs depends on its stack and its shape, not on its position:
/// the key of latency tables. Granularity 1 is a teacher layer.
public struct BlockKind: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var stack: StackRole
  /// 1 for a teacher layer, `g` for a module of granularity `g`.
  public var granularity: Int

  public init(stack: StackRole, granularity: Int) {
    self.stack = stack
    self.granularity = granularity
  }

  /// The kind of `piece` when it sits in `stack`.
  public init(_ piece: PlanPiece, in stack: StackRole) {
    switch piece {
    case .teacher: self.init(stack: stack, granularity: 1)
    case .module(let span): self.init(stack: span.stack, granularity: span.granularity)
    }
  }

  public static func teacherLayer(_ stack: StackRole) -> BlockKind { BlockKind(stack: stack, granularity: 1) }

  /// Parses a ``description`` (`encoder.layer`, `decoder.g3`); nil when it is not one.
  public init?(id: String) {
    let parts = id.split(separator: ".")
    guard parts.count == 2, let stack = StackRole(rawValue: String(parts[0])) else { return nil }
    if parts[1] == "layer" {
      self.init(stack: stack, granularity: 1)
    } else if parts[1].first == "g", let granularity = Int(parts[1].dropFirst()), granularity >= 2 {
      self.init(stack: stack, granularity: granularity)
    } else {
      return nil
    }
  }

  /// `encoder.layer` or `decoder.g3`.
  public var description: String { granularity == 1 ? "\(stack.rawValue).layer" : "\(stack.rawValue).g\(granularity)" }

  public static func < (a: BlockKind, b: BlockKind) -> Bool {
    (a.stack.rawValue, a.granularity) < (b.stack.rawValue, b.granularity)
  }
}

/// Parameter counts of a teacher and its modules: all the plan arithmetic needs.
///
/// A module of the default shape has the parameters of one teacher layer of
/// its stack; a module missing from ``moduleParameters`` is taken to have them.
public struct LayerCosts: Sendable, Equatable {
  public var encoderDepth: Int
  public var decoderDepth: Int
  /// Parameters of one teacher encoder layer.
  public var encoderLayerParameters: Int
  /// Parameters of one teacher decoder layer (with cross-attention).
  public var decoderLayerParameters: Int
  /// Everything outside the blocks: embeddings, final norms, output head,
  /// T5's relative position bias. Assembly never changes it.
  public var nonLayerParameters: Int
  /// Parameters that run once per generated token outside the blocks (the
  /// output head, `V·C`); used only by the FLOPs estimate.
  public var outputHeadParameters: Int
  public var moduleParameters: [ModuleSpan: Int]

  public init(
    encoderDepth: Int, decoderDepth: Int, encoderLayerParameters: Int, decoderLayerParameters: Int,
    nonLayerParameters: Int, outputHeadParameters: Int = 0, moduleParameters: [ModuleSpan: Int] = [:]
  ) {
    self.encoderDepth = encoderDepth
    self.decoderDepth = decoderDepth
    self.encoderLayerParameters = encoderLayerParameters
    self.decoderLayerParameters = decoderLayerParameters
    self.nonLayerParameters = nonLayerParameters
    self.outputHeadParameters = outputHeadParameters
    self.moduleParameters = moduleParameters
  }

  /// Measures an (unassembled) teacher.
  public init(teacher: any Seq2SeqModel, moduleParameters: [ModuleSpan: Int] = [:]) {
    let encoderBlocks = teacher.encoder.blocks, decoderBlocks = teacher.decoder.blocks
    self.init(
      encoderDepth: encoderBlocks.count, decoderDepth: decoderBlocks.count,
      encoderLayerParameters: encoderBlocks.first?.parameterCount ?? 0,
      decoderLayerParameters: decoderBlocks.first?.parameterCount ?? 0,
      nonLayerParameters: teacher.parameterCount - teacher.layerParameterCount,
      outputHeadParameters: teacher.vocabularySize * teacher.modelWidth, moduleParameters: moduleParameters)
  }

  public func depth(_ stack: StackRole) -> Int { stack == .encoder ? encoderDepth : decoderDepth }

  public func teacherLayerParameters(_ stack: StackRole) -> Int {
    stack == .encoder ? encoderLayerParameters : decoderLayerParameters
  }

  /// Parameters of one block of `stack`.
  public func parameters(of piece: PlanPiece, in stack: StackRole) -> Int {
    switch piece {
    case .teacher: teacherLayerParameters(stack)
    case .module(let span): moduleParameters[span] ?? teacherLayerParameters(span.stack)
    }
  }

  public func parameters(of pieces: [PlanPiece], in stack: StackRole) -> Int {
    pieces.reduce(0) { $0 + parameters(of: $1, in: stack) }
  }

  /// The teacher's Transformer-layer parameters (both stacks).
  public var teacherLayerParameterTotal: Int {
    encoderDepth * encoderLayerParameters + decoderDepth * decoderLayerParameters
  }

  /// Sizes and ratios of `plan`. `sourceTokensPerGeneratedToken` sets how the
  /// encoder's one pass over the source is spread over the generated tokens
  /// in the FLOPs estimate (see ``PlanCost/estimatedDecodingFLOPsPerToken``).
  public func cost(of plan: AssemblyPlan, sourceTokensPerGeneratedToken: Double = 1) -> PlanCost {
    let encoder = parameters(of: plan.encoder, in: .encoder)
    let decoder = parameters(of: plan.decoder, in: .decoder)
    let layers = encoder + decoder
    let teacherLayers = teacherLayerParameterTotal
    func ratio(_ teacher: Int, _ assembly: Int) -> Double { assembly == 0 ? 1 : Double(teacher) / Double(assembly) }
    let flops = 2 * (Double(decoder) + Double(encoder) * sourceTokensPerGeneratedToken + Double(outputHeadParameters))
    return PlanCost(
      encoderDepth: plan.encoder.count, decoderDepth: plan.decoder.count, encoderLayerParameters: encoder,
      decoderLayerParameters: decoder, layerParameters: layers, totalParameters: layers + nonLayerParameters,
      teacherLayerParameters: teacherLayers, teacherTotalParameters: teacherLayers + nonLayerParameters,
      layerParameterRatio: ratio(teacherLayers, layers),
      totalParameterRatio: ratio(teacherLayers + nonLayerParameters, layers + nonLayerParameters),
      latencySpeedup: nil, estimatedDecodingFLOPsPerToken: flops)
  }
}

/// The size of an assembly and its compression, reported three ways together.
public struct PlanCost: Sendable, Equatable, Codable {
  public var encoderDepth: Int
  public var decoderDepth: Int
  public var encoderLayerParameters: Int
  public var decoderLayerParameters: Int
  /// Parameters inside the blocks of both stacks.
  public var layerParameters: Int
  /// Layer parameters plus the teacher's non-layer parameters.
  public var totalParameters: Int
  public var teacherLayerParameters: Int
  public var teacherTotalParameters: Int
  /// Teacher layer parameters / assembly layer parameters: the headline ratio.
  public var layerParameterRatio: Double
  /// Teacher total parameters / assembly total parameters.
  public var totalParameterRatio: Double
  /// Teacher latency / assembly latency, measured; nil until measured.
  @NullEncoded public var latencySpeedup: Double?
  /// Multiply-adds ×2 per generated token: `2·(P_dec + P_enc·s + P_head)`,
  /// where the decoder's blocks run once per generated token, the encoder's
  /// once per source token (`s` source tokens per generated token, 1 by
  /// default) and the output head once per token. It leaves out attention
  /// scores (quadratic in length) and counts the cached cross-attention
  /// key/value projections every step, so it is an estimate, not a measurement.
  public var estimatedDecodingFLOPsPerToken: Double

  enum CodingKeys: String, CodingKey {
    case encoderDepth = "encoder_depth", decoderDepth = "decoder_depth"
    case encoderLayerParameters = "encoder_layer_parameters", decoderLayerParameters = "decoder_layer_parameters"
    case layerParameters = "layer_parameters", totalParameters = "total_parameters"
    case teacherLayerParameters = "teacher_layer_parameters", teacherTotalParameters = "teacher_total_parameters"
    case layerParameterRatio = "layer_parameter_ratio", totalParameterRatio = "total_parameter_ratio"
    case latencySpeedup = "latency_speedup"
    case estimatedDecodingFLOPsPerToken = "estimated_decoding_flops_per_token"
  }

  public init(
    encoderDepth: Int, decoderDepth: Int, encoderLayerParameters: Int, decoderLayerParameters: Int,
    layerParameters: Int, totalParameters: Int, teacherLayerParameters: Int, teacherTotalParameters: Int,
    layerParameterRatio: Double, totalParameterRatio: Double, latencySpeedup: Double?,
    estimatedDecodingFLOPsPerToken: Double
  ) {
    self.encoderDepth = encoderDepth
    self.decoderDepth = decoderDepth
    self.encoderLayerParameters = encoderLayerParameters
    self.decoderLayerParameters = decoderLayerParameters
    self.layerParameters = layerParameters
    self.totalParameters = totalParameters
    self.teacherLayerParameters = teacherLayerParameters
    self.teacherTotalParameters = teacherTotalParameters
    self.layerParameterRatio = layerParameterRatio
    self.totalParameterRatio = totalParameterRatio
    self.latencySpeedup = latencySpeedup
    self.estimatedDecodingFLOPsPerToken = estimatedDecodingFLOPsPerToken
  }
}
