import Foundation

/// A module training recipe: the training settings and the data.
///
/// ```json
/// {"modules": {"granularities": [2, 3, 4, 6], "sampling": "per-step", "steps": 1200, …},
///  "data": {"task": "dates", "batch_tokens": 2048}}
/// ```
public struct ModulesRecipe: Sendable {
  public var modules = ModuleTrainingSettings()
  public var data = DatasetSpec()

  public init() {}

  /// Reads a recipe file; errors name the file and the field.
  public static func load(from url: URL) throws -> ModulesRecipe {
    let file = try RecipeFile(url: url, parts: ["modules", "data"])
    var recipe = ModulesRecipe()
    recipe.modules = try file.part("modules", ModuleTrainingSettings.self) ?? recipe.modules
    recipe.data = try file.part("data", DatasetSpec.self) ?? recipe.data
    return recipe
  }
}
