import Foundation
import Seq2SeqModels

/// What the planner knows about one available module.
public struct ModuleFacts: Sendable, Hashable, Codable {
  public var parameters: Int
  /// Validation loss with only this module swapped into the teacher (the
  /// quality probe); nil when it was not probed.
  public var validationLoss: Float?
  /// The task metric of the same probe, higher is better; nil when not probed.
  public var metric: Float?

  public init(parameters: Int, validationLoss: Float? = nil, metric: Float? = nil) {
    self.parameters = parameters
    self.validationLoss = validationLoss
    self.metric = metric
  }
}

/// The modules an assembly may use: the planner's view of a registry.
public protocol ModuleCatalog {
  /// Every module that can be loaded, by span.
  var availableModules: [ModuleSpan: ModuleFacts] { get }
  /// The teacher's validation loss on the probe's data, the baseline of the
  /// modules' loss increases; nil when unknown.
  var teacherValidationLoss: Float? { get }
}

extension ModuleCatalog {
  public var teacherValidationLoss: Float? { nil }
}

/// A catalog held in memory (tests, explicit module lists).
public struct StaticModuleCatalog: ModuleCatalog, Sendable {
  public var availableModules: [ModuleSpan: ModuleFacts]
  public var teacherValidationLoss: Float?

  public init(_ modules: [ModuleSpan: ModuleFacts], teacherValidationLoss: Float? = nil) {
    availableModules = modules
    self.teacherValidationLoss = teacherValidationLoss
  }

  /// Every aligned span of `granularities` in both stacks, each with `parameters(stack)` parameters.
  public init(
    encoderDepth: Int, decoderDepth: Int, granularities: [Int], parameters: (StackRole) -> Int,
    teacherValidationLoss: Float? = nil
  ) {
    var modules: [ModuleSpan: ModuleFacts] = [:]
    for (stack, depth) in [(StackRole.encoder, encoderDepth), (.decoder, decoderDepth)] {
      for g in granularities {
        for span in ModuleSpan.spans(stack: stack, depth: depth, granularity: g) {
          modules[span] = ModuleFacts(parameters: parameters(stack))
        }
      }
    }
    self.init(modules, teacherValidationLoss: teacherValidationLoss)
  }
}
