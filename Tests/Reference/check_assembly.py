#!/usr/bin/env python3
"""Checks that an assembled model folder loads in `transformers` and computes
the logits Tessera computes for it.

Usage:
  python3 Tests/Reference/check_assembly.py DIR [--tessera .build/release/tessera] [--tolerance 1e-4]

DIR is a folder written by `tessera assemble` (config.json, model.safetensors,
assembly.json). The script checks that the config's depths are the plan's,
draws seeded random inputs inside the vocabulary (with padding in the source),
runs `tessera forward` on them, and hands the result to check_export.py, which
loads the folder with AutoModelForSeq2SeqLM and compares logits.

Exit status: 0 pass, 1 a value or depth differs, 2 something cannot be loaded or run.
"""

import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
  parser = argparse.ArgumentParser(description="Compare an assembled model in transformers with Tessera.")
  parser.add_argument("dir", help="assembled model folder")
  parser.add_argument("--tessera", default=".build/release/tessera", help="the tessera executable")
  parser.add_argument("--tolerance", type=float, default=1e-4, help="largest logit error relative to the largest logit")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  try:
    with open(os.path.join(args.dir, "config.json")) as f:
      config = json.load(f)
    with open(os.path.join(args.dir, "assembly.json")) as f:
      assembly = json.load(f)
  except (OSError, json.JSONDecodeError) as error:
    print(json.dumps({"status": "error", "message": str(error)}))
    return 2

  encoder_key, decoder_key = ("num_layers", "num_decoder_layers") if config["model_type"] == "t5" else ("encoder_layers", "decoder_layers")
  depths = {"encoder": config[encoder_key], "decoder": config[decoder_key]}
  planned = {stack: len(assembly["plan"][stack]) for stack in ("encoder", "decoder")}
  if depths != planned:
    print(json.dumps({"status": "fail", "message": f"config depths {depths} differ from the plan's {planned}"}))
    return 1

  generator = torch.Generator().manual_seed(args.seed)
  batch, source, target = 3, 12, 7
  vocabulary = config["vocab_size"]
  input_ids = torch.randint(3, vocabulary, (batch, source), generator=generator)
  attention_mask = torch.ones(batch, source)
  attention_mask[1, 9:] = 0  # one padded row
  input_ids[1, 9:] = config.get("pad_token_id", 0)
  decoder_input_ids = torch.randint(3, vocabulary, (batch, target), generator=generator)
  decoder_input_ids[:, 0] = config.get("decoder_start_token_id", 0)
  inputs = os.path.join(args.dir, "check_inputs.safetensors")
  outputs = os.path.join(args.dir, "tessera_logits.safetensors")
  save_file({
    "input_ids": input_ids.float(), "attention_mask": attention_mask, "decoder_input_ids": decoder_input_ids.float(),
  }, inputs)
  try:
    forward = subprocess.run(
      [args.tessera, "forward", "--model", args.dir, "--inputs", inputs, "--out", outputs], capture_output=True, text=True)
    if forward.returncode != 0:
      print(json.dumps({"status": "error", "message": f"tessera forward failed: {forward.stderr.strip()}"}))
      return 2
    check = subprocess.run(
      [sys.executable, os.path.join(HERE, "check_export.py"), args.dir, "--reference", outputs,
       "--tolerance", str(args.tolerance)], capture_output=True, text=True)
    sys.stdout.write(check.stdout)
    sys.stderr.write(check.stderr)
    return check.returncode
  finally:
    for path in (inputs, outputs):
      if os.path.exists(path):
        os.remove(path)


if __name__ == "__main__":
  sys.exit(main())
