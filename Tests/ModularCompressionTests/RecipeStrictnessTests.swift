import Foundation
import ModularCompression
import XCTest

final class RecipeStrictnessTests: XCTestCase {
  private func recipeError(_ json: String, teacher: Bool) -> String? {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UUID().uuidString).json")
    try? Data(json.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    do {
      if teacher { _ = try TeacherRecipe.load(from: url) } else { _ = try ModulesRecipe.load(from: url) }
      return nil
    } catch {
      XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
      return "\(error)"
    }
  }

  private func assertFails(_ json: String, teacher: Bool = true, _ fragment: String, line: UInt = #line) {
    guard let message = recipeError(json, teacher: teacher) else { return XCTFail("accepted \(json)", line: line) }
    XCTAssertTrue(message.contains(fragment), message, line: line)
  }

  func testMisspeltKeysFailNamingTheKeyPath() {
    assertFails(#"{"training": {"learning_rte": 0.1}}"#, "field 'training.learning_rte': unknown field")
    assertFails(#"{"modules": {"stepz": 3}}"#, teacher: false, "field 'modules.stepz': unknown field")
    assertFails(#"{"data": {"tsk": "dates"}}"#, "field 'data.tsk': unknown field")
    assertFails(#"{"modules": {"weights": {"logit": 1}}}"#, teacher: false, "field 'modules.weights.logit': unknown field")
    // The model part takes any config.json field.
    XCTAssertNil(recipeError(#"{"model": {"any_config_field": 1}}"#, teacher: true))
  }

  func testDuplicateKeysAndBadJSONNameThePlace() {
    assertFails("{\"training\": {\"steps\": 1, \"steps\": 2}}", "duplicate key 'steps' in 'training'")
    assertFails("{\n\"training\": }", "invalid JSON at line 2, column 13")
  }

  func testConflictingAndInvalidValuesAreRefused() {
    assertFails(#"{"data": {"task": "dates", "train_file": "missing.jsonl"}}"#, "field 'data.train_file': cannot be used with 'task'")
    assertFails(#"{"training": {"clip_norm": -1}}"#, "field 'training.clip_norm'")
    assertFails(#"{"training": {"weight_decay": -0.1}}"#, "field 'training.weight_decay'")
    assertFails(#"{"modules": {"clip_norm": -1}}"#, teacher: false, "field 'modules.clip_norm'")
    assertFails(#"{"modules": {"weight_decay": -1}}"#, teacher: false, "field 'modules.weight_decay'")
    assertFails(
      #"{"modules": {"weights": {"cross_entropy": 0, "logits": 0, "hidden": 0, "attention": 0}}}"#, teacher: false,
      "at least one loss weight must be positive")
    assertFails(#"{"modules": {"granularities": [1]}}"#, teacher: false, "each must be at least 2")
  }

  func testGranularityDeeperThanTheTeacherIsNamed() {
    var settings = ModuleTrainingSettings()
    settings.granularities = [13]
    XCTAssertEqual(settings.granularityProblem(encoderLayers: 12, decoderLayers: 12)?.key, "granularities")
    settings.granularities = [2, 12]
    XCTAssertNil(settings.granularityProblem(encoderLayers: 12, decoderLayers: 12))
    settings.granularities = [2, 13]
    XCTAssertNil(settings.granularityProblem(encoderLayers: 12, decoderLayers: 12), "13 alone is a note; 2 still trains")
  }

  func testShippedRecipesStillLoad() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    XCTAssertNoThrow(try TeacherRecipe.load(from: root.appendingPathComponent("Recipes/demo-teacher.json")))
    XCTAssertNoThrow(try ModulesRecipe.load(from: root.appendingPathComponent("Recipes/demo-modules.json")))
    XCTAssertNoThrow(try AssemblyRecipe.load(from: root.appendingPathComponent("Recipes/assemble-2-size-first.json")))
  }
}
