import Foundation
import XCTest

@testable import ModularCompression

/// A test case of the pipelines at tiny sizes: a temporary folder removed
/// after each test, and a few examples of the dates task in small batches.
class TinyPipelineTestCase: XCTestCase {
  var folder: URL!

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(type(of: self))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: folder)
  }

  var data: DatasetSpec {
    var data = DatasetSpec(task: "dates")
    data.trainExamples = 32
    data.validExamples = 6
    data.testExamples = 6
    data.batchTokens = 256
    return data
  }

  /// A 4+4-layer, 16-wide T5 on `data`, trained for three steps.
  var tinyTeacherRecipe: TeacherRecipe {
    var recipe = TeacherRecipe(data: data)
    recipe.model = [
      "model_type": .string("t5"), "d_model": .number(16), "d_kv": .number(8), "d_ff": .number(32), "num_heads": .number(2),
      "num_layers": .number(4), "num_decoder_layers": .number(4), "dropout_rate": .number(0),
    ]
    recipe.training.steps = 3
    recipe.training.warmupSteps = 1
    return recipe
  }

  /// The tiny teacher trained into `folder/name`, its seed `seed`.
  func trainTinyTeacher(name: String = "teacher", seed: UInt64 = 0) throws -> URL {
    var recipe = tinyTeacherRecipe
    recipe.training.seed = seed
    let teacher = folder.appendingPathComponent(name)
    try TeacherTraining.run(TeacherTrainingParameters(recipe: recipe, output: teacher))
    return teacher
  }
}
