import Foundation
import Seq2SeqModels
import TextTasks
import Tokenizers

@testable import ModularCompression

/// A 4+4 (or `depth`+`depth`) T5 with the byte vocabulary saved with its tokenizer in `directory`,
/// and a registry of untrained modules (copies of each span's first layer).
struct ComparisonFixture {
  let teacher: T5Model
  let teacherFolder: URL
  let registry: ModuleRegistry

  init(in directory: URL, granularities: [Int] = [2], depth: Int = 4) throws {
    let tokenizer = ByteTokenizer()
    teacher = TinyTeachers.t5(encoderLayers: depth, decoderLayers: depth, seed: 9, vocabularySize: tokenizer.vocabularySize)
    teacherFolder = directory.appendingPathComponent("teacher")
    try ModelExport.save(teacher, to: teacherFolder, tokenizer: tokenizer)
    registry = try ModuleRegistry.create(
      at: directory.appendingPathComponent("registry"), teacherFingerprint: try TeacherFingerprint.of(modelFolder: teacherFolder),
      teacher: TeacherSummary(model: teacher, path: teacherFolder.path))
    let provenance = ModuleProvenance(
      created: Date(timeIntervalSince1970: 1_700_000_000), steps: 0, seed: 1, command: "test", initialisation: "copy-first")
    for stack in [teacher.encoder, teacher.decoder] {
      for granularity in granularities {
        for span in ModuleSpan.spans(stack: stack.role, depth: stack.depth, granularity: granularity) {
          try registry.add(block: stack.blocks[span.start].copy(), span: span, provenance: provenance)
        }
      }
    }
  }

  static let examples = [("1+2", "3"), ("4+4", "8"), ("2+7", "9"), ("5+5", "10"), ("3+1", "4"), ("6+2", "8")].map {
    Example(source: $0.0, target: $0.1)
  }
}
