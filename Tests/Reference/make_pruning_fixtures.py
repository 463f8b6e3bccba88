#!/usr/bin/env python3
"""Logits that `transformers` computes on folders Tessera pruned from the committed fixtures.

For each case below it runs `tessera prune` on a fixture folder (structured, and magnitude
with --dense), loads the result in transformers (strictly: no missing, unexpected or
misshaped keys), runs it on the fixture's recorded inputs and writes the logits to
Tests/Seq2SeqModelsTests/Fixtures/<fixture>/pruned.safetensors. PruningParityTests prunes
the same fixture the same way in Swift and compares.

Usage:
  python3 Tests/Reference/make_pruning_fixtures.py [--tessera .build/debug/tessera]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_export import as_ids, load_model  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Seq2SeqModelsTests", "Fixtures")

# fixture → (key in pruned.safetensors, tessera prune arguments). Keep in step with PruningParityTests.
CASES = {
  "t5_v1_1": [
    ("structured", ["--method", "structured", "--sparsity", "0.5"]),
    ("magnitude", ["--method", "magnitude", "--sparsity", "0.6", "--dense"]),
  ],
  "t5_v1_0": [("structured", ["--method", "structured", "--sparsity", "0.25"])],
  "bart": [
    ("structured", ["--method", "structured", "--sparsity", "0.5", "--targets", "ffn"]),
    ("magnitude", ["--method", "magnitude", "--sparsity", "0.6", "--scope", "layer", "--dense"]),
  ],
}


def inputs_of(fixture: str) -> dict:
  path = os.path.join(FIXTURES, fixture, "reference.safetensors")
  with safe_open(path, "pt") as f:
    ref = {k: f.get_tensor(k) for k in ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")}
  return {k: as_ids(v, path, k) for k, v in ref.items()}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tessera", default=".build/debug/tessera")
  args = parser.parse_args()
  torch.use_deterministic_algorithms(True)
  torch.set_num_threads(1)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()
  for fixture, cases in CASES.items():
    tensors, metadata = {}, {"transformers": transformers.__version__, "torch": torch.__version__}
    inputs = inputs_of(fixture)
    for key, prune_args in cases:
      with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "pruned")
        command = [args.tessera, "prune", "--model", os.path.join(FIXTURES, fixture), *prune_args, "--out", out]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        model = load_model(out)
        with torch.no_grad():
          tensors[f"{key}_logits"] = model(**inputs).logits.float().contiguous()
      metadata[key] = " ".join(prune_args)
      print(f"{fixture} {key}: {' '.join(prune_args)} → logits {list(tensors[f'{key}_logits'].shape)}")
    path = os.path.join(FIXTURES, fixture, "pruned.safetensors")
    save_file(tensors, path, metadata=metadata)
    os.chmod(path, 0o644)
  return 0


if __name__ == "__main__":
  sys.exit(main())
