import Foundation
import NeuralLayers
@testable import Seq2SeqModels
import TensorCore
import Tokenizers
import XCTest

final class ModelFolderTests: TemporaryFolderTestCase {
  /// Export, reload: same keys as the reference file, same logits.
  func testExportRoundTripsEveryFixture() throws {
    for name in ReferenceFixture.names {
      let fixture = try ReferenceFixture(name)
      let model = try ModelLoading.load(from: fixture.folder)
      let out = temporary.appendingPathComponent(name)
      try ModelExport.save(model, to: out)
      let original = try SafeTensorsFile.readHeader(from: fixture.folder.appendingPathComponent("model.safetensors")).names
      let exported = try SafeTensorsFile.readHeader(from: out.appendingPathComponent("model.safetensors")).names
      // The export adds the tied copies explicitly; every reference key is there.
      XCTAssertTrue(Set(original).isSubset(of: Set(exported)), "\(name): \(Set(original).subtracting(exported))")
      let reloaded = try ModelLoading.load(from: out)
      let batch = try fixture.batch()
      let a = withoutGradient { model.forward(batch) }, b = withoutGradient { reloaded.forward(batch) }
      XCTAssertEqual(a.scalars, b.scalars, name)
    }
  }

  func testMissingFilesAreNamed() throws {
    let fixture = try ReferenceFixture("t5_v1_0")
    let folder = temporary.appendingPathComponent("m")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: fixture.folder.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
    XCTAssertThrowsError(try ModelLoading.load(from: folder)) { error in
      XCTAssertEqual(error as? ModelFolderError, .missingFile(folder.appendingPathComponent("model.safetensors").path))
    }
  }

  func testUnknownModelTypeAndInvalidConfiguration() throws {
    XCTAssertThrowsError(try ModelLoading.makeModel(configuration: Data(#"{"model_type": "gpt2"}"#.utf8), source: "c.json")) { error in
      XCTAssertEqual(error as? ModelFolderError, .unknownModelType(file: "c.json", modelType: "gpt2"))
    }
    XCTAssertThrowsError(try ModelLoading.makeModel(configuration: Data(#"{"model_type": "t5", "d_model": -4}"#.utf8), source: "c.json")) { error in
      XCTAssertTrue(String(describing: error).hasPrefix("c.json: field 'd_model'"), String(describing: error))
    }
    XCTAssertThrowsError(try ModelLoading.makeModel(configuration: Data(#"{"model_type": "t5", "feed_forward_proj": "gated-swish"}"#.utf8), source: "c.json")) { error in
      XCTAssertTrue(String(describing: error).contains("feed_forward_proj"), String(describing: error))
    }
    XCTAssertThrowsError(try ModelLoading.makeModel(configuration: Data("{not json".utf8), source: "c.json")) { error in
      XCTAssertTrue(String(describing: error).hasPrefix("c.json: invalid JSON, line 1, column 2"), String(describing: error))
    }
    XCTAssertThrowsError(try ModelLoading.makeModel(configuration: Data(#"{"model_type": "t5", "d_model": 8, "d_model": 16}"#.utf8), source: "c.json")) { error in
      XCTAssertTrue(String(describing: error).contains("duplicate key 'd_model'"), String(describing: error))
    }
  }

  func testWeightProblemsNameTheKey() throws {
    let fixture = try ReferenceFixture("bart")
    let weights = try SafeTensorsFile.read(from: fixture.folder.appendingPathComponent("model.safetensors")).tensors
    let config = try Data(contentsOf: fixture.folder.appendingPathComponent("config.json"))
    func load(_ tensors: [String: Tensor]) throws {
      let model = try ModelLoading.makeModel(configuration: config, source: "config.json")
      try ModelLoading.load(tensors, into: model, source: "model.safetensors")
    }
    var extra = weights
    extra["model.encoder.layers.9.fc1.weight"] = Tensor([1])
    XCTAssertThrowsError(try load(extra)) { error in
      XCTAssertEqual(error as? ParameterLoadingError, .unexpectedKey("model.encoder.layers.9.fc1.weight", source: "model.safetensors"))
    }
    var missing = weights
    missing["model.decoder.layers.1.fc2.bias"] = nil
    XCTAssertThrowsError(try load(missing)) { error in
      XCTAssertEqual(error as? ParameterLoadingError, .missingKey("model.decoder.layers.1.fc2.bias", source: "model.safetensors"))
    }
    var wrongShape = weights
    wrongShape["model.encoder.layers.0.fc1.weight"] = Tensor.zeros([63, 32])
    XCTAssertThrowsError(try load(wrongShape)) { error in
      XCTAssertEqual(
        error as? ParameterLoadingError,
        .shapeMismatch("model.encoder.layers.0.fc1.weight", expected: [64, 32], found: [63, 32], source: "model.safetensors"))
    }
    var untied = weights
    untied["lm_head.weight"] = Tensor.zeros([100, 32])
    XCTAssertThrowsError(try load(untied)) { error in
      XCTAssertEqual(error as? ModelFolderError, .tiedWeightDiffers(file: "model.safetensors", key: "lm_head.weight", sharedKey: "model.shared.weight"))
    }
    var tiedCopy = weights
    tiedCopy["lm_head.weight"] = weights["model.shared.weight"]
    XCTAssertNoThrow(try load(tiedCopy))
  }

  func testCorruptWeightsFileIsRefusedAndAFailedSaveKeepsTheOldFolder() throws {
    let fixture = try ReferenceFixture("t5_v1_1")
    let folder = temporary.appendingPathComponent("corrupt")
    try FileManager.default.copyItem(at: fixture.folder, to: folder)
    let weights = folder.appendingPathComponent("model.safetensors")
    let data = try Data(contentsOf: weights)
    try data.prefix(data.count / 2).write(to: weights)
    XCTAssertThrowsError(try ModelLoading.load(from: folder)) { error in
      XCTAssertTrue(String(describing: error).contains(weights.path), String(describing: error))
    }
    // Saving into an existing folder replaces it whole; the old files stay until the new ones are complete.
    let model = try ModelLoading.load(from: fixture.folder)
    let target = temporary.appendingPathComponent("target")
    try ModelExport.save(model, to: target, tokenizer: ByteTokenizer())
    XCTAssertThrowsError(try ModelExport.save(model, to: target, extraFiles: ["sub/dir/x.json": Data()]))
    XCTAssertNoThrow(try ModelLoading.load(from: target))
    XCTAssertTrue(FileManager.default.fileExists(atPath: target.appendingPathComponent("tokenizer.json").path))
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: temporary.path).filter { $0.hasPrefix(".") }
    XCTAssertEqual(leftovers, [])
  }
}
