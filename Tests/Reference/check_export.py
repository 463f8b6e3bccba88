#!/usr/bin/env python3
"""Checks that a model folder written by Tessera computes, in `transformers`,
the logits Tessera computed for it.

Usage:
  python3 Tests/Reference/check_export.py DIR [--reference FILE] [--tolerance 1e-4]

DIR is a Hugging Face style folder (config.json + model.safetensors). FILE
(default DIR/tessera_logits.safetensors) holds the inputs and Tessera's outputs;
its keys are described in Tests/Reference/README.md ("check_export contract").
A fixture's reference.safetensors has the same keys, so it works as FILE too.

Exit status: 0 all checks pass, 1 a value differs beyond tolerance,
2 the folder or file cannot be loaded (missing, unexpected or misshaped keys).
"""

import argparse
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForSeq2SeqLM, DynamicCache, EncoderDecoderCache

REQUIRED = ("input_ids", "decoder_input_ids", "logits")


def fail_load(message: str) -> None:
  print(json.dumps({"status": "error", "message": message}))
  sys.exit(2)


def read_reference(path: str) -> dict:
  if not os.path.isfile(path):
    fail_load(f"{path}: no such file")
  try:
    with safe_open(path, "pt") as f:
      tensors = {k: f.get_tensor(k) for k in f.keys()}
  except Exception as error:  # safetensors raises several types for corrupt files
    fail_load(f"{path}: cannot read safetensors ({error})")
  for key in REQUIRED:
    if key not in tensors:
      fail_load(f"{path}: missing key '{key}'")
  return tensors


def as_ids(tensor: torch.Tensor, path: str, key: str) -> torch.Tensor:
  """Ids may be stored as F32 (the fixture convention) or as an integer type."""
  if tensor.is_floating_point() and not torch.equal(tensor, tensor.round()):
    fail_load(f"{path}: key '{key}' holds non-integer ids")
  return tensor.round().long() if tensor.is_floating_point() else tensor.long()


def load_model(folder: str):
  if not os.path.isfile(os.path.join(folder, "config.json")):
    fail_load(f"{folder}: no config.json")
  try:
    model, info = AutoModelForSeq2SeqLM.from_pretrained(
      folder, attn_implementation="eager", output_loading_info=True)
  except Exception as error:
    fail_load(f"{folder}: transformers cannot load it ({type(error).__name__}: {error})")
  problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
  if problems:
    fail_load(f"{folder}/model.safetensors: {problems}")
  return model.eval().float()


def trimmed(row: list, eos: int) -> list:
  out = []
  for token in row[1:]:
    out.append(token)
    if token == eos:
      break
  return out


def check_greedy(model, inputs: dict, expected: torch.Tensor, path: str) -> dict:
  """Greedy decoding with every optional processor off, compared up to EOS."""
  cfg = model.config
  expected = as_ids(expected, path, "greedy_sequences")
  out = model.generate(
    input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
    past_key_values=EncoderDecoderCache(DynamicCache(), DynamicCache()),
    max_new_tokens=expected.shape[1] - 1, num_beams=1, do_sample=False, min_length=0,
    no_repeat_ngram_size=0, repetition_penalty=1.0, forced_bos_token_id=None, forced_eos_token_id=None,
    decoder_start_token_id=cfg.decoder_start_token_id, eos_token_id=cfg.eos_token_id,
    pad_token_id=cfg.pad_token_id)
  got = [trimmed(r, cfg.eos_token_id) for r in out.tolist()]
  want = [trimmed(r, cfg.eos_token_id) for r in expected.tolist()]
  return {"greedy_equal": got == want, "greedy_transformers": got, "greedy_tessera": want}


def main() -> int:
  parser = argparse.ArgumentParser(description="Compare a Tessera-exported model with transformers.")
  parser.add_argument("dir", help="model folder (config.json + model.safetensors)")
  parser.add_argument("--reference", help="inputs and expected outputs (default DIR/tessera_logits.safetensors)")
  parser.add_argument("--tolerance", type=float, default=1e-4,
                      help="max |logit difference| / max |logit| allowed (default 1e-4)")
  parser.add_argument("--loss-tolerance", type=float, default=1e-5, help="relative loss error allowed")
  args = parser.parse_args()

  torch.use_deterministic_algorithms(True)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()

  path = args.reference or os.path.join(args.dir, "tessera_logits.safetensors")
  ref = read_reference(path)
  model = load_model(args.dir)

  input_ids = as_ids(ref["input_ids"], path, "input_ids")
  decoder_input_ids = as_ids(ref["decoder_input_ids"], path, "decoder_input_ids")
  inputs = {
    "input_ids": input_ids,
    "attention_mask": as_ids(ref.get("attention_mask", torch.ones_like(input_ids)), path, "attention_mask"),
    "decoder_input_ids": decoder_input_ids,
    "decoder_attention_mask": as_ids(
      ref.get("decoder_attention_mask", torch.ones_like(decoder_input_ids)), path, "decoder_attention_mask"),
  }
  expected = ref["logits"].float()
  want_shape = (*decoder_input_ids.shape, model.config.vocab_size)
  if tuple(expected.shape) != want_shape:
    fail_load(f"{path}: key 'logits' has shape {list(expected.shape)}, expected {list(want_shape)}")

  labels = as_ids(ref["labels"], path, "labels") if "labels" in ref else None
  with torch.no_grad():
    out = model(**inputs, labels=labels)
  logits = out.logits.float()
  scale = float(logits.abs().max())
  max_diff = float((logits - expected).abs().max())
  relative = max_diff / max(scale, 1e-30)
  report = {
    "dir": args.dir,
    "reference": path,
    "model_type": model.config.model_type,
    "max_abs_diff": max_diff,
    "max_abs_logit": scale,
    "relative_diff": relative,
    "tolerance": args.tolerance,
  }
  ok = relative <= args.tolerance
  if labels is not None and "loss" in ref:
    want_loss = float(ref["loss"].reshape(-1)[0])
    loss_error = abs(float(out.loss) - want_loss) / max(abs(want_loss), 1e-30)
    report.update(loss_transformers=float(out.loss), loss_tessera=want_loss, loss_relative_error=loss_error)
    ok = ok and loss_error <= args.loss_tolerance
  if "greedy_sequences" in ref:
    with torch.no_grad():
      report.update(check_greedy(model, inputs, ref["greedy_sequences"], path))
    ok = ok and report["greedy_equal"]
  report["status"] = "ok" if ok else "mismatch"
  print(json.dumps(report, indent=2))
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
