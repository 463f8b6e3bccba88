import Foundation
import Seq2SeqModels
import TensorCore

/// `tessera forward`: teacher-forced logits of a model on recorded inputs, for
/// checking a model folder against another implementation.
enum ForwardCommand {
  static let command = Command(
    path: ["forward"],
    summary: "Compute teacher-forced logits for recorded inputs (parity checks)",
    discussion: """
      Reads input_ids, attention_mask, decoder_input_ids (and decoder_attention_mask
      if present) from a safetensors file, runs the model and writes those inputs
      plus `logits` [B, T, V] to --out. Ids are stored as F32.

      EXAMPLE (compare an exported model with transformers):
        tessera forward --model out/model --inputs Tests/Seq2SeqModelsTests/Fixtures/t5_v1_0/reference.safetensors \\
          --out out/model/tessera_logits.safetensors
        python3 Tests/Reference/check_export.py out/model
      """,
    options: [
      .value("--model", "DIR", "Model folder (required)"),
      .value("--inputs", "FILE", "safetensors file with the input ids and masks (required)"),
      .value("--out", "FILE", "Where to write inputs + logits (required)"),
    ]
  ) { arguments in
    let model = try ModelLoading.load(from: URL(fileURLWithPath: try arguments.require("--model")))
    let inputsURL = URL(fileURLWithPath: try arguments.require("--inputs"))
    let inputs = try SafeTensorsFile.read(from: inputsURL).tensors
    func tensor(_ key: String) throws -> Tensor {
      guard let value = inputs[key] else { throw TrainingError("\(inputsURL.path): missing tensor '\(key)'") }
      return value
    }
    let ids = try tensor("input_ids"), decoderIDs = try tensor("decoder_input_ids")
    guard ids.rank == 2, decoderIDs.rank == 2, decoderIDs.shape[0] == ids.shape[0], ids.count > 0, decoderIDs.count > 0 else {
      throw TrainingError("\(inputsURL.path): input_ids and decoder_input_ids must be non-empty [B, S] and [B, T]")
    }
    let logits: Tensor
    do {
      for (key, expected) in [("attention_mask", ids.shape), ("decoder_attention_mask", decoderIDs.shape)] {
        guard let mask = inputs[key] else { continue }
        guard mask.shape == expected else {
          throw TrainingError("\(inputsURL.path): '\(key)' has shape \(mask.shape), the ids have \(expected)")
        }
        try ModelInputChecks.keepMask(mask.scalars, field: key)
      }
      let vocabulary = model.vocabularySize
      let batch = Seq2SeqBatch(
        batchSize: ids.shape[0], sourceLength: ids.shape[1],
        sourceIDs: try ModelInputChecks.tokenIDs(fromScalars: ids.scalars, field: "input_ids", vocabularySize: vocabulary),
        sourceKeep: inputs["attention_mask"]?.scalars ?? [Float](repeating: 1, count: ids.count),
        targetLength: decoderIDs.shape[1],
        decoderInputIDs: try ModelInputChecks.tokenIDs(
          fromScalars: decoderIDs.scalars, field: "decoder_input_ids", vocabularySize: vocabulary),
        decoderKeep: inputs["decoder_attention_mask"]?.scalars, labels: [Int](repeating: -100, count: decoderIDs.count))
      logits = try model.checkedForward(batch)
    } catch let error as ModelInputError {
      throw TrainingError("\(inputsURL.path): \(error)")
    }
    var out = ["input_ids": ids, "decoder_input_ids": decoderIDs, "logits": logits]
    for key in ["attention_mask", "decoder_attention_mask"] { out[key] = inputs[key] }
    try SafeTensorsFile(tensors: out).write(to: URL(fileURLWithPath: try arguments.require("--out")))
    print("wrote logits \(logits.shape) to \(try arguments.require("--out"))")
  }
}
