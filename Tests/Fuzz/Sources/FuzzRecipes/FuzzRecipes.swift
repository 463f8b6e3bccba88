import Foundation
import FuzzDriver
import ModularCompression

/// Teacher and module recipes load only from a file, so each input is
/// written to this process's own scratch file first.
let scratch = FileManager.default.temporaryDirectory
  .appendingPathComponent("tessera-fuzz-recipe-\(getpid()).json")

/// One input: recipe JSON, read as a teacher, a modules and an assembly recipe.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipes(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  _ = try? AssemblyRecipe.parse(bytes, source: "fuzz/assembly.json")
  guard (try? bytes.write(to: scratch)) != nil else { return 0 }
  _ = try? TeacherRecipe.load(from: scratch)
  _ = try? ModulesRecipe.load(from: scratch)
  return 0
}

@_cdecl("FuzzRecipes_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzRecipes(data!, size) }
}
