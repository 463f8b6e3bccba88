#!/usr/bin/env python3
"""CTranslate2 CPU peer numbers for `tessera bench model --ct2`.

Converts one model folder (config.json + model.safetensors, e.g. one Tessera
wrote) to CTranslate2 in float32 and in int8, then measures greedy decoding:
  (a) latency at batch 1: a 64-token source, exactly N new tokens (end of
      sequence suppressed with min_decoding_length), encoder included;
  (b) throughput at batch B (default 32): generated tokens per second.
The folders need no tokenizer: a word-level one naming every id ("t<id>") is
written beside a copy of the weights for the converter. Prints one JSON object.

Usage:
  python3 Tests/Reference/bench_ct2.py --model DIR [--threads 2] [--decode-runs 5]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time

import ctranslate2
from ctranslate2.converters import TransformersConverter


def parse_args():
  p = argparse.ArgumentParser(description="CTranslate2 greedy decoding latency and throughput for a model folder.")
  p.add_argument("--model", required=True, help="model folder (config.json + model.safetensors)")
  p.add_argument("--threads", type=int, default=2, help="intra_threads (default 2)")
  p.add_argument("--new-tokens", type=int, default=32)
  p.add_argument("--source-len", type=int, default=64)
  p.add_argument("--decode-runs", type=int, default=5, help="timed runs after one warm-up")
  p.add_argument("--batch", type=int, default=32, help="rows of the throughput run")
  p.add_argument("--types", default="float32,int8", help="compute types to measure")
  p.add_argument("--seed", type=int, default=3)
  return p.parse_args()


def write_tokenizer(folder, vocab_size, specials):
  """A word-level tokenizer with one token per id, specials at the model's ids."""
  from tokenizers import Tokenizer
  from tokenizers.models import WordLevel
  from tokenizers.pre_tokenizers import WhitespaceSplit
  from transformers import PreTrainedTokenizerFast

  names = {i: f"t{i}" for i in range(vocab_size)}
  names.update({i: name for name, i in specials.items()})
  vocab = {name: i for i, name in names.items()}
  tok = Tokenizer(WordLevel(vocab, unk_token=next(n for n, i in specials.items() if n == "<unk>")))
  tok.pre_tokenizer = WhitespaceSplit()
  fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
  fast.save_pretrained(folder)
  return names


def convert(folder, types):
  with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
  vocab_size = config["vocab_size"]
  pad, eos = config.get("pad_token_id", 0), config.get("eos_token_id", 1)
  unk = 2 if 2 not in (pad, eos) else 3
  work = tempfile.mkdtemp(prefix="tessera-ct2-")
  source = os.path.join(work, "hf")
  os.makedirs(source)
  for name in ("config.json", "model.safetensors"):
    shutil.copy(os.path.join(folder, name), source)
  names = write_tokenizer(source, vocab_size, {"<pad>": pad, "</s>": eos, "<unk>": unk})
  out = {}
  for kind in types:
    target = os.path.join(work, kind)
    TransformersConverter(source).convert(target, quantization=kind, force=True)
    out[kind] = target
  return work, out, names, eos


def timed(runs, body):
  body()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    body()
    times.append(time.perf_counter() - start)
  return statistics.median(times), times


def main() -> int:
  args = parse_args()
  import random

  types = [t for t in args.types.split(",") if t]
  work, folders, names, eos = convert(args.model, types)
  rng = random.Random(args.seed)
  vocab_size = len(names)

  def source():
    return [names[3 + rng.randrange(vocab_size - 3)] for _ in range(args.source_len - 1)] + [names[eos]]

  single = [source()]
  batch = [source() for _ in range(args.batch)]
  report = {"framework": "ctranslate2", "ctranslate2": ctranslate2.__version__, "threads": args.threads,
            "machine": platform.processor() or platform.machine(), "new_tokens": args.new_tokens,
            "source_len": args.source_len, "batch": args.batch}
  try:
    for kind, folder in folders.items():
      translator = ctranslate2.Translator(folder, device="cpu", compute_type=kind, intra_threads=args.threads,
                                          inter_threads=1)
      options = dict(beam_size=1, max_decoding_length=args.new_tokens, min_decoding_length=args.new_tokens)
      first = translator.translate_batch(single, **options)[0].hypotheses[0]
      if len(first) != args.new_tokens:
        raise RuntimeError(f"{kind}: {len(first)} tokens generated, expected {args.new_tokens}")
      latency, times = timed(args.decode_runs, lambda: translator.translate_batch(single, **options))
      batched, _ = timed(max(1, args.decode_runs // 2), lambda: translator.translate_batch(batch, **options))
      report[kind] = {"median_seconds": latency, "seconds": times,
                      "batch_tokens_per_second": args.batch * args.new_tokens / batched}
      del translator
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=2))
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
