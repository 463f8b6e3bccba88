import Foundation
import JSONFormat
import NeuralLayers
import TensorCore

/// The `autoencoded` section of a folder whose layers are stored as weight
/// autoencoder latents: its groups, each the layers sharing one decoder (one
/// layer alone, or one matrix type across layers) and the latent width.
public enum AutoencodedCompression {
  public static let sectionKey = "autoencoded"

  /// The autoencoded layers of `model` grouped by decoder, in key order (the owner first).
  public static func groups(of model: any Seq2SeqModel) -> [(keys: [String], latentWidth: Int, activation: RowDecoder.Activation)] {
    var order: [ObjectIdentifier] = [], members: [ObjectIdentifier: [String]] = [:]
    var decoders: [ObjectIdentifier: RowDecoder] = [:]
    for (key, layer) in LinearLayers.all(in: model) {
      guard let encoded = layer as? AutoencodedLinear else { continue }
      let id = ObjectIdentifier(encoded.decoder)
      if members[id] == nil { order.append(id) }
      // The owner comes first: it stores the decoder.
      if encoded.ownsDecoder { members[id, default: []].insert(key, at: 0) } else { members[id, default: []].append(key) }
      decoders[id] = encoded.decoder
    }
    return order.map { (members[$0]!, decoders[$0]!.latentWidth, decoders[$0]!.activation) }
  }

  static func section(of model: any Seq2SeqModel) -> JSONValue? {
    let groups = groups(of: model)
    guard !groups.isEmpty else { return nil }
    return .object([
      ("groups", .array(groups.map { .object([
        ("layers", .array($0.keys.map { .string($0) })), ("latent", .number(Double($0.latentWidth))),
        ("decoder", .string($0.activation.rawValue)),
      ]) })),
    ])
  }

  /// Puts zero autoencoded layers of the listed shapes in `model`, each group
  /// sharing one decoder stored with its first layer, for the strict loader to fill.
  static func install(_ section: JSONValue, into model: any Seq2SeqModel, configFile: String) throws {
    func invalid(_ reason: String) -> ModelFolderError { .invalidConfiguration(file: configFile, reason: "field '\(sectionKey)': \(reason)") }
    guard case .array(let groups)? = section["groups"] else { throw invalid("'groups' must be a list") }
    let layers = Dictionary(LinearLayers.all(in: model).map { ($0.key, $0.layer) }, uniquingKeysWith: { a, _ in a })
    var seen = Set<String>()
    for group in groups {
      guard case .array(let entries)? = group["layers"], !entries.isEmpty else { throw invalid("each group needs a non-empty 'layers' list") }
      let keys = try entries.map { entry -> String in
        guard case .string(let key) = entry, layers[key] is Linear, seen.insert(key).inserted else {
          throw invalid("\(entry.jsonText) is not a linear layer of this model listed once")
        }
        return key
      }
      let linears = keys.map { layers[$0] as! Linear }
      let width = linears[0].inputSize
      guard linears.allSatisfy({ $0.inputSize == width }) else { throw invalid("a group's layers must take inputs of one width") }
      guard let latent = group["latent"]?.integerValue, latent >= 1, latent <= 1 << 16 else {
        throw invalid("each group's 'latent' must be a positive integer")
      }
      // Folders written before the non-linear autoencoder name no decoder per group: theirs are linear.
      var activation = RowDecoder.Activation.linear
      if let value = group["decoder"] ?? section["decoder"] {
        guard case .string(let name) = value, let named = RowDecoder.Activation(rawValue: name) else {
          throw invalid("each group's 'decoder' must be one of \(RowDecoder.Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        activation = named
      }
      let decoder = RowDecoder(
        linear: Linear(weight: Parameter(Tensor.zeros([width, latent])), bias: Parameter(Tensor.zeros([width]))), activation: activation)
      for (index, (key, linear)) in zip(keys, linears).enumerated() {
        let layer = AutoencodedLinear(
          latents: Parameter(Tensor.zeros([linear.outputSize, latent])), rowNorms: Parameter(Tensor.zeros([linear.outputSize])),
          bias: linear.bias.map { _ in Parameter(Tensor.zeros([linear.outputSize])) }, decoder: decoder, ownsDecoder: index == 0)
        try LinearLayers.replace(at: key, in: model, with: layer)
      }
    }
  }
}
