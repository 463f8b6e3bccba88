#!/usr/bin/env python3
"""Checks a sharded model folder written by Tessera in transformers.

  check_shards.py DIR --fixture Tests/Seq2SeqModelsTests/Fixtures/NAME

DIR must hold model.safetensors.index.json and its shards (as
`tessera teacher import NAME --out DIR --max-shard-size 30KB` writes them).
Checks that the index's metadata.total_size is the sum of the shards' tensor
bytes and names every shard in the folder, that transformers loads the folder
with no missing, unexpected or misshaped key, and that `generate` with the
folder's generation settings gives the fixture's recorded greedy and beam
sequences. Prints one JSON object; exit status 0 = ok, 1 = mismatch.
"""

import argparse
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForSeq2SeqLM, DynamicCache, EncoderDecoderCache


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("folder")
  parser.add_argument("--fixture", required=True, help="fixture folder whose generation.json to compare with")
  args = parser.parse_args()
  transformers.logging.set_verbosity_error()

  with open(os.path.join(args.folder, "model.safetensors.index.json")) as f:
    index = json.load(f)
  shards = sorted(set(index["weight_map"].values()))
  on_disk = sorted(n for n in os.listdir(args.folder) if n.startswith("model-") and n.endswith(".safetensors"))
  total = 0
  for shard in shards:
    with safe_open(os.path.join(args.folder, shard), "pt") as f:
      for key in f.keys():
        assert index["weight_map"].get(key) == shard, f"{shard}: {key} not listed for it"
        tensor = f.get_tensor(key)
        total += tensor.numel() * tensor.element_size()
  model, info = AutoModelForSeq2SeqLM.from_pretrained(args.folder, attn_implementation="eager", output_loading_info=True)
  problems = {k: v for k, v in info.items() if v}
  with open(os.path.join(args.fixture, "generation.json")) as f:
    record = json.load(f)
  inputs = dict(input_ids=torch.tensor(record["input_ids"]), attention_mask=torch.tensor(record["attention_mask"]))
  outputs = {}
  with torch.no_grad():
    for name, beams in (("greedy", 1), ("beam", record["beam_num_beams"])):
      cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
      outputs[name] = model.eval().generate(**inputs, cache=cache, num_beams=beams, do_sample=False).tolist()
  result = dict(
    shards=len(shards), shards_match_folder=shards == on_disk, total_size=index["metadata"]["total_size"],
    tensor_bytes=total, loading_problems=problems, greedy_equal=outputs["greedy"] == record["greedy_sequences"],
    beam_equal=outputs["beam"] == record["beam_sequences"],
    dtype=str(next(model.parameters()).dtype), transformers=transformers.__version__)
  ok = (result["shards"] > 1 and result["shards_match_folder"] and total == result["total_size"] and not problems
        and result["greedy_equal"] and result["beam_equal"])
  result["status"] = "ok" if ok else "mismatch"
  print(json.dumps(result, indent=2))
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
