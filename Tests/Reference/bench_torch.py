#!/usr/bin/env python3
"""PyTorch CPU peer numbers for `tessera bench model`.

Measures, for one T5 model:
  (a) training throughput: forward + backward + AdamW step on a batch of
      B x S source and B x T target tokens (no padding, teacher forcing);
  (b) greedy decoding latency at batch 1: `generate` producing exactly N new
      tokens (EOS suppressed by min_new_tokens), encoder pass included.
Prints one JSON object. The model is either loaded from a folder (--model DIR,
config.json + model.safetensors, e.g. one Tessera wrote) or built from the size
flags with a seeded random init; --save DIR writes that model so Tessera can
benchmark the same weights.

Usage:
  python3 Tests/Reference/bench_torch.py [--model DIR | size flags] [--save DIR] [--threads 2]
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time

import torch
import transformers
from transformers import (
  AutoModelForSeq2SeqLM,
  DynamicCache,
  EncoderDecoderCache,
  T5Config,
  T5ForConditionalGeneration,
)


def parse_args():
  p = argparse.ArgumentParser(description="PyTorch CPU training throughput and greedy latency for a T5.")
  p.add_argument("--model", help="load this model folder instead of building one from the size flags")
  p.add_argument("--save", help="write the benchmarked model (config.json + model.safetensors) here")
  p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
  p.add_argument("--seed", type=int, default=0)
  g = p.add_argument_group("model size (ignored with --model)")
  g.add_argument("--d-model", type=int, default=256)
  g.add_argument("--layers", type=int, default=6, help="encoder layers")
  g.add_argument("--decoder-layers", type=int, default=6)
  g.add_argument("--d-ff", type=int, default=1024)
  g.add_argument("--heads", type=int, default=4)
  g.add_argument("--d-kv", type=int, default=64)
  g.add_argument("--vocab", type=int, default=32128, help="vocabulary size (default: T5's 32128)")
  g.add_argument("--feed-forward", default="relu", help="relu (T5 v1.0) or gated-gelu (v1.1)")
  g.add_argument("--dropout", type=float, default=0.1, help="dropout during the training steps")
  t = p.add_argument_group("workload")
  t.add_argument("--batch", type=int, default=16)
  t.add_argument("--source-len", type=int, default=64)
  t.add_argument("--target-len", type=int, default=64)
  t.add_argument("--train-steps", type=int, default=5, help="timed training steps (after one warm-up step)")
  t.add_argument("--lr", type=float, default=1e-4)
  t.add_argument("--new-tokens", type=int, default=32)
  t.add_argument("--decode-source-len", type=int, default=64)
  t.add_argument("--decode-runs", type=int, default=5, help="timed generate calls (after one warm-up call)")
  t.add_argument("--skip-train", action="store_true")
  t.add_argument("--skip-decode", action="store_true")
  return p.parse_args()


def build_model(args):
  if args.model:
    return AutoModelForSeq2SeqLM.from_pretrained(args.model)
  torch.manual_seed(args.seed)
  config = T5Config(
    vocab_size=args.vocab, d_model=args.d_model, d_kv=args.d_kv, d_ff=args.d_ff,
    num_layers=args.layers, num_decoder_layers=args.decoder_layers, num_heads=args.heads,
    feed_forward_proj=args.feed_forward, dropout_rate=args.dropout,
    tie_word_embeddings=(args.feed_forward == "relu"),
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
  )
  model = T5ForConditionalGeneration(config)
  if not config.scale_decoder_outputs:
    # transformers 5.x ties lm_head at construction even for v1.1; untie it as
    # real v1.1 checkpoints are (HF's own init for an untied head: std 1).
    with torch.no_grad():
      model.lm_head.weight = torch.nn.Parameter(torch.randn(args.vocab, args.d_model))
  return model


def mark_untied(folder):
  """Spell an untied T5 head the Hub way (see make_fixtures.fix_t5_config_json)."""
  path = f"{folder}/config.json"
  with open(path) as f:
    cfg = json.load(f)
  cfg["tie_word_embeddings"] = False
  with open(path, "w") as f:
    json.dump(cfg, f, indent=2, sort_keys=True)
    f.write("\n")


def random_ids(generator, vocab, *shape):
  # Ids >= 3 keep pad, EOS and the usual specials out of the workload.
  return torch.randint(3, vocab, shape, generator=generator)


def bench_training(model, args, generator):
  vocab = model.config.vocab_size
  inputs = random_ids(generator, vocab, args.batch, args.source_len)
  labels = random_ids(generator, vocab, args.batch, args.target_len)
  mask = torch.ones_like(inputs)
  model.train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss = model(input_ids=inputs, attention_mask=mask, labels=labels).loss
    loss.backward()
    optimizer.step()
    return loss.item()

  step()  # warm-up: allocator, optimizer state
  times, losses = [], []
  for _ in range(args.train_steps):
    start = time.perf_counter()
    losses.append(step())
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  return {
    "step_seconds": times,
    "median_step_seconds": median,
    "target_tokens_per_second": args.batch * args.target_len / median,
    "source_plus_target_tokens_per_second": args.batch * (args.source_len + args.target_len) / median,
    "losses": losses,
  }


def bench_decoding(model, args, generator):
  model.eval()
  inputs = random_ids(generator, model.config.vocab_size, 1, args.decode_source_len)
  kwargs = dict(
    input_ids=inputs, attention_mask=torch.ones_like(inputs), do_sample=False, num_beams=1,
    max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
    forced_bos_token_id=None, forced_eos_token_id=None, no_repeat_ngram_size=0,
  )

  def run():
    # A lazily grown cache: transformers 5.x sizes its own from num_layers,
    # which breaks models with more decoder than encoder layers.
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    with torch.inference_mode():
      return model.generate(**kwargs, past_key_values=cache)

  out = run()  # warm-up
  generated = out.shape[1] - 1
  if generated != args.new_tokens:
    raise RuntimeError(f"generate produced {generated} tokens, expected {args.new_tokens}")
  times = []
  for _ in range(args.decode_runs):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  return {
    "seconds": times,
    "median_seconds": median,
    "median_ms_per_token": 1000 * median / args.new_tokens,
    "new_tokens": args.new_tokens,
    "source_len": args.decode_source_len,
  }


def main() -> int:
  args = parse_args()
  torch.set_num_threads(args.threads)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()
  generator = torch.Generator().manual_seed(args.seed)

  model = build_model(args)
  if args.save:
    model.save_pretrained(args.save, safe_serialization=True)
    if model.config.model_type == "t5" and not model.config.scale_decoder_outputs:
      mark_untied(args.save)
  cfg = model.config
  layer_params = sum(p.numel() for n, p in model.named_parameters() if ".block." in n or ".layers." in n)
  report = {
    "framework": "pytorch",
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "threads": torch.get_num_threads(),
    "machine": platform.processor() or platform.machine(),
    "attn_implementation": cfg._attn_implementation,
    "model": {
      "source": args.model or "random (seed %d)" % args.seed,
      "model_type": cfg.model_type,
      "d_model": cfg.d_model,
      "layers": cfg.num_hidden_layers,
      "decoder_layers": getattr(cfg, "num_decoder_layers", getattr(cfg, "decoder_layers", None)),
      "vocab_size": cfg.vocab_size,
      "parameters": sum(p.numel() for p in model.parameters()),
      "layer_parameters": layer_params,
      "dropout": getattr(cfg, "dropout_rate", getattr(cfg, "dropout", None)),
    },
  }
  if not args.skip_train:
    report["training"] = dict(
      batch=args.batch, source_len=args.source_len, target_len=args.target_len,
      optimizer="AdamW(lr=%g, weight_decay=0.01)" % args.lr, **bench_training(model, args, generator),
      # The process's peak resident set so far: import, model load and training.
      peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
  if not args.skip_decode:
    report["greedy_decoding"] = dict(batch=1, **bench_decoding(model, args, generator))
  print(json.dumps(report, indent=2))
  return 0


if __name__ == "__main__":
  sys.exit(main())
