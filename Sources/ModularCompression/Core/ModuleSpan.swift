import Foundation
import Seq2SeqModels

/// The aligned run of teacher layers `[index·g, (index+1)·g)` of one stack
/// that a module of granularity `g` replaces.
public struct ModuleSpan: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
  public var stack: StackRole
  public var granularity: Int
  /// The span's position among spans of its granularity (`j` in `m_gj`).
  public var index: Int

  public init(stack: StackRole, granularity: Int, index: Int) {
    self.stack = stack
    self.granularity = granularity
    self.index = index
  }

  /// The first teacher layer replaced.
  public var start: Int { index * granularity }
  /// One past the last teacher layer replaced.
  public var end: Int { (index + 1) * granularity }
  public var layers: Range<Int> { start..<end }

  /// A stable name: `encoder.g3.1` replaces encoder layers 3, 4, 5.
  public var id: String { "\(stack.rawValue).g\(granularity).\(index)" }
  public var description: String { "\(id) [\(start), \(end))" }

  /// Parses an ``id``; nil when it is not one.
  public init?(id: String) {
    let parts = id.split(separator: ".")
    guard parts.count == 3, let stack = StackRole(rawValue: String(parts[0])), parts[1].first == "g",
      let granularity = Int(parts[1].dropFirst()), granularity >= 2, let index = Int(parts[2]), index >= 0
    else { return nil }
    self.init(stack: stack, granularity: granularity, index: index)
  }

  public static func < (a: ModuleSpan, b: ModuleSpan) -> Bool {
    (a.stack.rawValue, a.granularity, a.index) < (b.stack.rawValue, b.granularity, b.index)
  }

  /// Every aligned span of granularity `g` in a stack of `depth` layers. Layers
  /// past the last whole span are left out; ``unfitted(depth:granularity:)``
  /// reports them so callers can tell the user.
  public static func spans(stack: StackRole, depth: Int, granularity: Int) -> [ModuleSpan] {
    guard granularity >= 2 else { return [] }
    return (0..<(depth / granularity)).map { ModuleSpan(stack: stack, granularity: granularity, index: $0) }
  }

  /// The trailing layers no span of granularity `g` covers (empty when `g` divides the depth).
  public static func unfitted(depth: Int, granularity: Int) -> Range<Int> {
    guard granularity >= 2 else { return depth..<depth }
    return (depth / granularity * granularity)..<depth
  }
}

/// One block of an assembled stack: a teacher layer kept as is, or a module.
public enum PlanPiece: Hashable, Sendable, Codable, CustomStringConvertible {
  case teacher(layer: Int)
  case module(ModuleSpan)

  /// The teacher layers this piece stands for.
  public var layers: Range<Int> {
    switch self {
    case .teacher(let layer): layer..<(layer + 1)
    case .module(let span): span.layers
    }
  }

  public var description: String {
    switch self {
    case .teacher(let layer): "L\(layer)"
    case .module(let span): "M\(span.granularity)[\(span.start)-\(span.end - 1)]"
    }
  }

  enum CodingKeys: String, CodingKey { case teacher, module }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    if let layer = try c.decodeIfPresent(Int.self, forKey: .teacher) {
      self = .teacher(layer: layer)
    } else {
      let id = try c.decode(String.self, forKey: .module)
      guard let span = ModuleSpan(id: id) else {
        throw DecodingError.dataCorruptedError(forKey: .module, in: c, debugDescription: "'\(id)' is not a module id like encoder.g2.0")
      }
      self = .module(span)
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .teacher(let layer): try c.encode(layer, forKey: .teacher)
    case .module(let span): try c.encode(span.id, forKey: .module)
    }
  }
}

/// A cover of both stacks by teacher layers and modules: what an assembly is made of.
public struct AssemblyPlan: Hashable, Sendable, Codable {
  public var encoder: [PlanPiece]
  public var decoder: [PlanPiece]

  public init(encoder: [PlanPiece], decoder: [PlanPiece]) {
    self.encoder = encoder
    self.decoder = decoder
  }

  /// The teacher itself: every layer kept.
  public static func teacher(encoderDepth: Int, decoderDepth: Int) -> AssemblyPlan {
    AssemblyPlan(encoder: (0..<encoderDepth).map { .teacher(layer: $0) }, decoder: (0..<decoderDepth).map { .teacher(layer: $0) })
  }

  public func pieces(_ stack: StackRole) -> [PlanPiece] { stack == .encoder ? encoder : decoder }

  /// The cover of a stack of `depth` layers that takes, at each layer in
  /// turn, the module `moduleAt` gives (when it fits) or else the teacher layer.
  public static func cover(depth: Int, moduleAt: (Int) -> ModuleSpan?) -> [PlanPiece] {
    var pieces: [PlanPiece] = []
    var layer = 0
    while layer < depth {
      if let span = moduleAt(layer), span.end <= depth {
        pieces.append(.module(span))
        layer = span.end
      } else {
        pieces.append(.teacher(layer: layer))
        layer += 1
      }
    }
    return pieces
  }

  /// Every module the plan uses.
  public var modules: [ModuleSpan] {
    (encoder + decoder).compactMap { if case .module(let span) = $0 { span } else { nil } }
  }

  /// Whether each stack's pieces cover its layers `0..<depth` exactly once, in order.
  public func isCover(encoderDepth: Int, decoderDepth: Int) -> Bool {
    func covers(_ pieces: [PlanPiece], _ depth: Int) -> Bool {
      var next = 0
      for piece in pieces {
        guard piece.layers.lowerBound == next else { return false }
        next = piece.layers.upperBound
      }
      return next == depth
    }
    return covers(encoder, encoderDepth) && covers(decoder, decoderDepth)
  }

  /// A compact text form: `enc L0 L1 M2[2-3] | dec M3[0-2] L3`.
  public var summary: String {
    "enc " + encoder.map(\.description).joined(separator: " ") + " | dec " + decoder.map(\.description).joined(separator: " ")
  }
}
