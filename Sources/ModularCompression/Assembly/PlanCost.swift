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
/// Counts come from the blocks themselves, layer by layer, so a teacher whose
/// layers differ (one replaced by a factorised or quantized kind) is sized
/// right. A module has the shape of one teacher layer of its span; a module
/// missing from ``moduleParameters`` is taken to have the parameters of the
/// first layer it replaces.
public struct LayerCosts: Sendable, Equatable {
  /// Parameters of each teacher encoder layer, in order.
  public var encoderLayers: [Int]
  /// Parameters of each teacher decoder layer (with cross-attention), in order.
  public var decoderLayers: [Int]
  /// Everything outside the blocks: embeddings, final norms, output head,
  /// T5's relative position bias. Assembly never changes it.
  public var nonLayerParameters: Int
  /// Multiply-adds per generated token outside the blocks (the output head's
  /// `V·C` projection, tied or not); used only by the FLOPs estimate.
  public var outputHeadParameters: Int
  public var moduleParameters: [ModuleSpan: Int]

  public init(
    encoderLayers: [Int], decoderLayers: [Int], nonLayerParameters: Int, outputHeadParameters: Int = 0,
    moduleParameters: [ModuleSpan: Int] = [:]
  ) {
    self.encoderLayers = encoderLayers
    self.decoderLayers = decoderLayers
    self.nonLayerParameters = nonLayerParameters
    self.outputHeadParameters = outputHeadParameters
    self.moduleParameters = moduleParameters
  }

  /// Stacks whose layers all have the same size.
  public init(
    encoderDepth: Int, decoderDepth: Int, encoderLayerParameters: Int, decoderLayerParameters: Int,
    nonLayerParameters: Int, outputHeadParameters: Int = 0, moduleParameters: [ModuleSpan: Int] = [:]
  ) {
    self.init(
      encoderLayers: Array(repeating: encoderLayerParameters, count: encoderDepth),
      decoderLayers: Array(repeating: decoderLayerParameters, count: decoderDepth), nonLayerParameters: nonLayerParameters,
      outputHeadParameters: outputHeadParameters, moduleParameters: moduleParameters)
  }

  /// Counts the parameters of `teacher`'s blocks one by one.
  public init(teacher: any Seq2SeqModel, moduleParameters: [ModuleSpan: Int] = [:]) {
    self.init(
      encoderLayers: teacher.encoder.blocks.map(\.parameterCount), decoderLayers: teacher.decoder.blocks.map(\.parameterCount),
      nonLayerParameters: EmbeddingCompression.storedParameterCount(of: teacher) - teacher.layerParameterCount,
      outputHeadParameters: teacher.vocabularySize * teacher.modelWidth, moduleParameters: moduleParameters)
  }

  public var encoderDepth: Int { encoderLayers.count }
  public var decoderDepth: Int { decoderLayers.count }

  public func depth(_ stack: StackRole) -> Int { stack == .encoder ? encoderDepth : decoderDepth }

  /// Parameters of each teacher layer of `stack`.
  public func layers(_ stack: StackRole) -> [Int] { stack == .encoder ? encoderLayers : decoderLayers }

  /// Parameters of teacher layer `layer` of `stack` (0 past the end: no such layer).
  public func parameters(ofLayer layer: Int, in stack: StackRole) -> Int {
    let counts = layers(stack)
    return counts.indices.contains(layer) ? counts[layer] : 0
  }

  /// Parameters of the first teacher layer of `stack`: the shape a module has
  /// and the size latency estimates scale from.
  public func teacherLayerParameters(_ stack: StackRole) -> Int { layers(stack).first ?? 0 }

  /// Parameters of all the teacher's layers of `stack`.
  public func teacherStackParameters(_ stack: StackRole) -> Int { layers(stack).reduce(0, +) }

  /// Parameters of one block of `stack`.
  public func parameters(of piece: PlanPiece, in stack: StackRole) -> Int {
    switch piece {
    case .teacher(let layer): parameters(ofLayer: layer, in: stack)
    case .module(let span): moduleParameters[span] ?? parameters(ofLayer: span.start, in: span.stack)
    }
  }

  public func parameters(of pieces: [PlanPiece], in stack: StackRole) -> Int {
    pieces.reduce(0) { $0 + parameters(of: $1, in: stack) }
  }

  /// The teacher's Transformer-layer parameters (both stacks).
  public var teacherLayerParameterTotal: Int { teacherStackParameters(.encoder) + teacherStackParameters(.decoder) }

  /// Sizes and ratios of `plan`. `sourceTokensPerGeneratedToken` sets how the
  /// encoder's one pass over the source is spread over the generated tokens
  /// in the FLOPs estimate (see ``PlanCost/estimatedDecodingFLOPsPerToken``).
  public func cost(of plan: AssemblyPlan, sourceTokensPerGeneratedToken: Double = 1) -> PlanCost {
    cost(
      encoderDepth: plan.encoder.count, decoderDepth: plan.decoder.count, encoder: parameters(of: plan.encoder, in: .encoder),
      decoder: parameters(of: plan.decoder, in: .decoder), nonLayer: nonLayerParameters, outputHead: outputHeadParameters,
      sourceTokensPerGeneratedToken: sourceTokensPerGeneratedToken)
  }

  /// Sizes and ratios of a built `model` against this teacher, counted from
  /// the model's own blocks and parameters, whatever kinds of layer it holds.
  public func cost(ofModel model: any Seq2SeqModel, sourceTokensPerGeneratedToken: Double = 1) -> PlanCost {
    let own = LayerCosts(teacher: model)
    var result = cost(
      encoderDepth: own.encoderDepth, decoderDepth: own.decoderDepth, encoder: own.teacherStackParameters(.encoder),
      decoder: own.teacherStackParameters(.decoder), nonLayer: own.nonLayerParameters, outputHead: own.outputHeadParameters,
      sourceTokensPerGeneratedToken: sourceTokensPerGeneratedToken)
    let bytes = ModelQuantization.storedBytes(of: model)
    result.weightBytes = bytes
    result.bytesRatio = bytes > 0 ? Double(4 * result.teacherTotalParameters) / Double(bytes) : nil
    return result
  }

  private func cost(
    encoderDepth: Int, decoderDepth: Int, encoder: Int, decoder: Int, nonLayer: Int, outputHead: Int,
    sourceTokensPerGeneratedToken: Double
  ) -> PlanCost {
    let layers = encoder + decoder
    let teacherLayers = teacherLayerParameterTotal
    func ratio(_ teacher: Int, _ assembly: Int) -> Double { assembly == 0 ? 1 : Double(teacher) / Double(assembly) }
    let flops = 2 * (Double(decoder) + Double(encoder) * sourceTokensPerGeneratedToken + Double(outputHead))
    var cost = PlanCost(
      encoderDepth: encoderDepth, decoderDepth: decoderDepth, encoderLayerParameters: encoder,
      decoderLayerParameters: decoder, layerParameters: layers, totalParameters: layers + nonLayer,
      teacherLayerParameters: teacherLayers, teacherTotalParameters: teacherLayers + nonLayerParameters,
      layerParameterRatio: ratio(teacherLayers, layers),
      totalParameterRatio: ratio(teacherLayers + nonLayerParameters, layers + nonLayer),
      latencySpeedup: nil, estimatedDecodingFLOPsPerToken: flops)
    // A plan's blocks are fp32 (a built model's own bytes replace these in cost(ofModel:)).
    (cost.weightBytes, cost.bytesRatio) = (4 * (layers + nonLayer), cost.totalParameterRatio)
    return cost
  }
}

/// The size of an assembly and its compression: parameters, stored bytes and (once measured) speed.
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
  /// Bytes of the weights as stored (quantized layers in their own types,
  /// tied weights once); nil in results written before it was recorded.
  @NullEncoded public var weightBytes: Int? = nil
  /// The fp32 teacher's weight bytes / ``weightBytes``: the fourth ratio,
  /// the one quantization moves (nil with ``weightBytes``).
  @NullEncoded public var bytesRatio: Double? = nil

  /// Stored bytes, or 4 per parameter where they were not recorded.
  public var weightBytesOrFP32: Int { weightBytes ?? 4 * totalParameters }

  enum CodingKeys: String, CodingKey {
    case encoderDepth = "encoder_depth", decoderDepth = "decoder_depth"
    case encoderLayerParameters = "encoder_layer_parameters", decoderLayerParameters = "decoder_layer_parameters"
    case layerParameters = "layer_parameters", totalParameters = "total_parameters"
    case teacherLayerParameters = "teacher_layer_parameters", teacherTotalParameters = "teacher_total_parameters"
    case layerParameterRatio = "layer_parameter_ratio", totalParameterRatio = "total_parameter_ratio"
    case latencySpeedup = "latency_speedup"
    case estimatedDecodingFLOPsPerToken = "estimated_decoding_flops_per_token"
    case weightBytes = "weight_bytes", bytesRatio = "bytes_ratio"
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
