import Foundation
import NeuralLayers
import TensorCore

/// How many attention heads and feed-forward units every layer of each stack has.
public struct BlockSizes: Equatable, Sendable {
  public var heads: [StackRole: Int]
  public var feedForwardWidths: [StackRole: Int]

  public init(heads: [StackRole: Int], feedForwardWidths: [StackRole: Int]) {
    self.heads = heads
    self.feedForwardWidths = feedForwardWidths
  }
}

/// A model cannot be pruned structurally as asked.
public enum StructuredPruningError: Error, CustomStringConvertible, Equatable {
  /// A block layer is not a dense ``Linear`` (factorised, autoencoded or quantized).
  case notDense(key: String)
  /// The sparsity removes every head or every unit of a stack's layers.
  case removesEverything(what: String, count: Int, sparsity: Double)
  /// The family's `config.json` cannot describe the smaller model.
  case unsupported(String)
  /// The layers of one stack differ in head count or width, which a uniform config cannot hold.
  case nonUniform(String)

  public var description: String {
    switch self {
    case .notDense(let key):
      "'\(key)' is not a dense linear layer: structured pruning slices dense weights, so prune the fp32 model before compress or quantize"
    case .removesEverything(let what, let count, let sparsity):
      "--sparsity \(sparsity) removes all \(count) \(what) of a layer; at least one must stay"
    case .unsupported(let reason): reason
    case .nonUniform(let reason): reason
    }
  }
}

/// `tessera prune --method structured`: removes whole attention heads and
/// feed-forward units, the same number from every layer of a stack, so the
/// result is an ordinary smaller model (`num_heads`, `d_ff`, `encoder_ffn_dim`,
/// … in its `config.json`) that reference tools load and that runs faster.
///
/// Importance: a head's is the L2 norm of its rows of the query, key and
/// value weights and its columns of the output weight, together; a unit's the
/// L2 norm of its input row(s) (and gate row) and its output column. Each
/// stack keeps one set of heads for all its attentions, chosen by the
/// importance summed over them, because a stack-wide table (T5's relative
/// position bias, `[buckets, H]`) indexes heads for every layer; its columns
/// of removed heads go too. Units are chosen per layer. Ties keep the lower index.
public enum StructuredPruning {
  /// What one pruning keeps: heads per stack, units per feed-forward (by key).
  public struct Plan: Equatable, Sendable {
    public var heads: [StackRole: [Int]]
    public var units: [String: [Int]]
  }

  /// The smaller model keeping, of every layer, `1 − sparsity` (rounded) of
  /// the heads (`targets` has attention) and of the units (it has ffn).
  public static func prune(
    _ model: any Seq2SeqModel, sparsity: Double, targets: Set<CompressionTarget>
  ) throws -> (model: any Seq2SeqModel, plan: Plan) {
    let plan = try plan(for: model, sparsity: sparsity, targets: targets)
    return (try apply(plan, to: model), plan)
  }

  /// The heads and units that stay.
  public static func plan(for model: any Seq2SeqModel, sparsity: Double, targets: Set<CompressionTarget>) throws -> Plan {
    var plan = Plan(heads: [:], units: [:])
    for stack in try stacks(of: model) {
      let heads = stack.attentions.first?.layer.heads ?? 0
      guard stack.attentions.allSatisfy({ $0.layer.heads == heads && $0.layer.headWidth == stack.attentions[0].layer.headWidth }) else {
        throw StructuredPruningError.nonUniform("the attentions of the \(stack.role.rawValue) differ in heads or head width")
      }
      var headImportance = [Double](repeating: 0, count: heads)
      for (key, attention) in stack.attentions {
        for (head, norm) in try headNorms(attention, key: key).enumerated() { headImportance[head] += norm }
      }
      plan.heads[stack.role] = targets.contains(.attention)
        ? try strongest(headImportance, sparsity: sparsity, what: "attention heads") : Array(0..<heads)
      let width = stack.feedForwards.first?.layer.hiddenWidth ?? 0
      guard stack.feedForwards.allSatisfy({ $0.layer.hiddenWidth == width }) else {
        throw StructuredPruningError.nonUniform("the feed-forward layers of the \(stack.role.rawValue) differ in width")
      }
      for (key, feedForward) in stack.feedForwards {
        plan.units[key] = targets.contains(.ffn)
          ? try strongest(try unitNorms(feedForward, key: key), sparsity: sparsity, what: "feed-forward units") : Array(0..<width)
      }
    }
    return plan
  }

  /// The heads and units of each stack's layers (its first ones'; ``plan(for:sparsity:targets:)`` checks they agree).
  public static func sizes(of model: any Seq2SeqModel) throws -> BlockSizes {
    var sizes = BlockSizes(heads: [:], feedForwardWidths: [:])
    for stack in try stacks(of: model) {
      sizes.heads[stack.role] = stack.attentions.first?.layer.heads
      sizes.feedForwardWidths[stack.role] = stack.feedForwards.first?.layer.hiddenWidth
    }
    return sizes
  }

  /// A model of `model`'s family with only the planned heads and units, their weights copied.
  public static func apply(_ plan: Plan, to model: any Seq2SeqModel) throws -> any Seq2SeqModel {
    let stacks = try stacks(of: model)
    var sizes = try sizes(of: model)
    for stack in stacks {
      if let heads = plan.heads[stack.role] { sizes.heads[stack.role] = heads.count }
      if let first = stack.feedForwards.first, let units = plan.units[first.key] { sizes.feedForwardWidths[stack.role] = units.count }
    }
    let pruned = try ModelLoading.makeModel(configuration: model.configurationJSON(resizedTo: sizes), source: "the pruned configuration")
    var tensors = model.stateDictionary()
    for stack in stacks {
      guard let heads = plan.heads[stack.role] else { continue }
      for (key, attention) in stack.attentions {
        let rows = heads.flatMap { head in (head * attention.headWidth)..<((head + 1) * attention.headWidth) }
        let names = attention.projectionNames
        for name in names.dropLast() { select(&tensors, prefix: "\(key).\(name)", rows: rows) }
        select(&tensors, prefix: "\(key).\(names[3])", columns: rows)
      }
      for key in stack.positionBiases { tensors["\(key).weight"] = tensors["\(key).weight"].map { columns($0, heads) } }
      for (key, feedForward) in stack.feedForwards {
        guard let units = plan.units[key] else { continue }
        for name in feedForward.names.dropLast() { select(&tensors, prefix: "\(key).\(name)", rows: units) }
        select(&tensors, prefix: "\(key).\(feedForward.names.last!)", columns: units)
      }
    }
    try pruned.loadStateDictionary(tensors, source: "the pruned weights")
    // Layers a magnitude pruning marked stay stored sparse.
    let marked = Set(SparseWeightStorage.sparseLayers(of: model).map(\.key))
    for (key, layer) in LinearLayers.all(in: pruned) where marked.contains(key) { (layer as? Linear)?.storesSparse = true }
    return pruned
  }

  /// The indices of the `count − round(sparsity · count)` largest values, ascending.
  static func strongest(_ importance: [Double], sparsity: Double, what: String) throws -> [Int] {
    let removed = Int((Double(importance.count) * sparsity).rounded())
    guard removed < importance.count else { throw StructuredPruningError.removesEverything(what: what, count: importance.count, sparsity: sparsity) }
    let order = importance.indices.sorted { importance[$0] != importance[$1] ? importance[$0] > importance[$1] : $0 < $1 }
    return order.prefix(importance.count - removed).sorted()
  }

  /// One stack's attentions, feed-forward layers and position-bias tables, by full key.
  struct StackParts {
    let role: StackRole
    var attentions: [(key: String, layer: MultiHeadAttention)] = []
    var feedForwards: [(key: String, layer: FeedForward)] = []
    var positionBiases: [String] = []
  }

  static func stacks(of model: any Seq2SeqModel) throws -> [StackParts] {
    // The smaller model is built dense from weights sliced by key: every layer must be a dense one.
    if let (key, _) = LinearLayers.all(in: model).first(where: { !($0.layer is Linear) }) { throw StructuredPruningError.notDense(key: key) }
    let nodes = allNodes(in: model, prefix: "")
    return [(StackRole.encoder, model.encoder), (.decoder, model.decoder)].map { role, stack in
      let prefix = nodes.first { $0.node === stack }!.key
      var parts = StackParts(role: role)
      for (key, node) in allNodes(in: stack, prefix: prefix) {
        if let attention = node as? MultiHeadAttention { parts.attentions.append((key, attention)) }
        if let feedForward = node as? FeedForward { parts.feedForwards.append((key, feedForward)) }
        if node is RelativePositionBias { parts.positionBiases.append(key) }
      }
      return parts
    }
  }

  /// Every node of the layer tree under `root` with its key path.
  static func allNodes(in root: any ParameterContainer, prefix: String) -> [(key: String, node: any ParameterContainer)] {
    let children = (root as? any LayerTree)?.sublayers ?? []
    return [(prefix, root)] + children.flatMap { child in
      allNodes(in: child.layer, prefix: prefix.isEmpty ? child.key : (child.key.isEmpty ? prefix : prefix + "." + child.key))
    }
  }

  /// Each head's L2 norm over its query, key and value rows and its output columns.
  static func headNorms(_ attention: MultiHeadAttention, key: String) throws -> [Double] {
    let width = attention.headWidth
    var squares = [Double](repeating: 0, count: attention.heads)
    for (index, projection) in [attention.query, attention.key, attention.value, attention.output].enumerated() {
      let weight = try dense(projection, key: "\(key).\(attention.projectionNames[index])")
      addSquares(weight, into: &squares, byRow: index < 3, groupWidth: width)
    }
    return squares.map { $0.squareRoot() }
  }

  /// Each unit's L2 norm over its input (and gate) rows and its output column.
  static func unitNorms(_ feedForward: FeedForward, key: String) throws -> [Double] {
    var squares = [Double](repeating: 0, count: feedForward.hiddenWidth)
    let layers = (feedForward.gate.map { [$0] } ?? []) + [feedForward.input, feedForward.output]
    for (index, layer) in layers.enumerated() {
      let weight = try dense(layer, key: "\(key).\(feedForward.names[index])")
      addSquares(weight, into: &squares, byRow: index < layers.count - 1, groupWidth: 1)
    }
    return squares.map { $0.squareRoot() }
  }

  private static func dense(_ layer: any LinearLayer, key: String) throws -> Tensor {
    guard let linear = layer as? Linear else { throw StructuredPruningError.notDense(key: key) }
    return linear.weight.value
  }

  /// Adds the squares of `weight` `[out, in]` to `squares[g]`, grouping
  /// `groupWidth` consecutive rows (`byRow`) or columns per entry.
  private static func addSquares(_ weight: Tensor, into squares: inout [Double], byRow: Bool, groupWidth: Int) {
    let (rows, columns) = (weight.shape[0], weight.shape[1])
    let scalars = weight.scalars
    for row in 0..<rows {
      for column in 0..<columns {
        let value = Double(scalars[row * columns + column])
        squares[(byRow ? row : column) / groupWidth] += value * value
      }
    }
  }

  /// Keeps rows `rows` of `<prefix>.weight` and of `<prefix>.bias` when present.
  private static func select(_ tensors: inout [String: Tensor], prefix: String, rows: [Int]) {
    for name in ["\(prefix).weight", "\(prefix).bias"] {
      tensors[name] = tensors[name].map { tensor in
        let width = tensor.count / tensor.shape[0]
        let scalars = tensor.scalars
        return Tensor(rows.flatMap { scalars[($0 * width)..<(($0 + 1) * width)] }, shape: [rows.count] + tensor.shape.dropFirst())
      }
    }
  }

  /// Keeps columns `kept` of `<prefix>.weight` (its bias is per output and stays).
  private static func select(_ tensors: inout [String: Tensor], prefix: String, columns kept: [Int]) {
    tensors["\(prefix).weight"] = tensors["\(prefix).weight"].map { columns($0, kept) }
  }

  /// Columns `kept` of a matrix.
  private static func columns(_ matrix: Tensor, _ kept: [Int]) -> Tensor {
    let (rows, width) = (matrix.shape[0], matrix.shape[1])
    let scalars = matrix.scalars
    return Tensor((0..<rows).flatMap { row in kept.map { scalars[row * width + $0] } }, shape: [rows, kept.count])
  }
}
