#!/usr/bin/env python3
"""Writes the checkpoint-variant fixtures: tiny random Hugging Face models in the
layouts real checkpoints use, with their logits and the outputs of `generate`
under each folder's own generation settings.

  bart_untied     BART, untied lm_head, random final_logits_bias, SiLU, scale_embedding
  flan_t5         T5, gated-gelu, untied head, config.json/generation_config.json as the
                  Hub's flan-t5 spells them (no max_new_tokens: the default length applies)
  mt5_sharded     mT5 (model_type mt5), gated-silu, untied head, weights in 3 shards
                  with model.safetensors.index.json
  mbart           mBART (pre-norm, a layer norm ending each stack), ReLU, scale_embedding,
                  a forced first token (a language code in real checkpoints)
  bart_generation BART, gelu_new, generation_config.json in bart-large-cnn's style:
                  num_beams, no_repeat_ngram_size, min_length, forced bos/eos,
                  repetition_penalty, length_penalty, early_stopping, max_length

The file contract is in Tests/Reference/README.md ("Variant fixtures").

Usage: python3 Tests/Reference/make_variant_fixtures.py [--out DIR] [--models NAME...]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from safetensors.torch import save_file
from torch import nn
from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration, GenerationConfig
from transformers import DynamicCache, EncoderDecoderCache, MT5Config, MT5ForConditionalGeneration, T5Config
from transformers import MBartConfig, MBartForConditionalGeneration, T5ForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import DEFAULT_OUT, make_inputs, randomize_norms, sharpen_bart, trim  # noqa: E402

NUM_BEAMS = 3
MIN_GREEDY_MARGIN = 1e-3
SMALL = dict(vocab_size=100, d_model=16)

# The generation settings of bart_generation, bart-large-cnn's keys with tiny values.
CNN_STYLE = dict(
  num_beams=NUM_BEAMS, max_length=14, min_length=6, no_repeat_ngram_size=2, repetition_penalty=1.3,
  length_penalty=2.0, early_stopping=True, forced_bos_token_id=0, forced_eos_token_id=2,
)
# Each of these, reset to its neutral value, must change some output.
NEUTRAL = dict(no_repeat_ngram_size=0, min_length=0, repetition_penalty=1.0, forced_bos_token_id=None)


def bart_config(activation: str, scale_embedding: bool, tied: bool, mbart: bool = False) -> BartConfig:
  return (MBartConfig if mbart else BartConfig)(
    **SMALL, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32, activation_function=activation,
    scale_embedding=scale_embedding, dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
    pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None,
    forced_bos_token_id=None, tie_word_embeddings=tied, attn_implementation="eager")


@torch.no_grad()
def build_bart(seed: int, activation: str, scale_embedding: bool, tied: bool, mbart: bool = False):
  torch.manual_seed(seed)
  config = bart_config(activation, scale_embedding, tied, mbart)
  model = (MBartForConditionalGeneration if mbart else BartForConditionalGeneration)(config)
  sharpen_bart(model, shared_std=0.25 if scale_embedding else 0.6)
  randomize_norms(model, with_bias=True)
  if not tied:
    model.lm_head.weight = nn.Parameter(torch.randn(model.config.vocab_size, model.config.d_model) * 0.4)
    # transformers 5.x unties the stacks' embed_tokens from `shared` too; in
    # checkpoints from 4.x (the Hub's) they are one tensor. Make them equal copies.
    for stack in (model.model.encoder, model.model.decoder):
      stack.embed_tokens.weight.copy_(model.model.shared.weight)
  model.final_logits_bias.normal_(0.0, 0.5)
  model.final_logits_bias[0, model.config.eos_token_id] += 2.0
  return model.eval()


@torch.no_grad()
def build_t5(seed: int, mt5: bool, activation: str):
  torch.manual_seed(seed)
  config_class, model_class = (MT5Config, MT5ForConditionalGeneration) if mt5 else (T5Config, T5ForConditionalGeneration)
  config = config_class(
    **SMALL, num_heads=2, d_kv=8, d_ff=32, num_layers=2, num_decoder_layers=2, relative_attention_num_buckets=8,
    relative_attention_max_distance=16, dropout_rate=0.1, layer_norm_epsilon=1e-6, feed_forward_proj=activation,
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, tie_word_embeddings=False, attn_implementation="eager")
  model = model_class(config)
  randomize_norms(model, with_bias=False)
  for name, p in model.named_parameters():
    for suffix, factor in {".q.weight": 4.0, ".o.weight": 2.0, ".wo.weight": 2.0}.items():
      if name.endswith(suffix):
        p.mul_(factor)
    if name.endswith("relative_attention_bias.weight"):
      p.normal_(0.0, 0.5)
  # Both classes tie lm_head at construction; real flan-t5 and mT5 heads are their own.
  model.lm_head.weight = nn.Parameter(torch.randn(config.vocab_size, config.d_model) * 0.3)
  return model.eval()


def plain_generation_config(config) -> GenerationConfig:
  return GenerationConfig(decoder_start_token_id=config.decoder_start_token_id, eos_token_id=config.eos_token_id,
                          pad_token_id=config.pad_token_id, bos_token_id=getattr(config, "bos_token_id", None),
                          max_new_tokens=12)


# name -> builder, first seed, generation settings (None: the Hub's flan-t5 minimal file)
MODELS = {
  "bart_untied": (lambda s: build_bart(s, "silu", scale_embedding=True, tied=False), 500, plain_generation_config),
  "flan_t5": (lambda s: build_t5(s, mt5=False, activation="gated-gelu"), 600,
              lambda c: GenerationConfig(decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)),
  "mt5_sharded": (lambda s: build_t5(s, mt5=True, activation="gated-silu"), 700, plain_generation_config),
  "mbart": (lambda s: build_bart(s, "relu", scale_embedding=True, tied=True, mbart=True), 900,
            lambda c: GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                                       forced_bos_token_id=5, max_new_tokens=12)),
  "bart_generation": (lambda s: build_bart(s, "gelu_new", scale_embedding=False, tied=True), 800,
                      lambda c: GenerationConfig(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                                                 pad_token_id=1, **CNN_STYLE)),
}


def generate(model, inputs, **overrides) -> list:
  # A lazily grown cache: transformers 5.x sizes its own from the encoder depth.
  cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
  out = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], cache=cache,
                       do_sample=False, return_dict_in_generate=True, output_scores=True, **overrides)
  return out


def run_generation(model, inputs) -> dict:
  eos = model.generation_config.eos_token_id
  greedy = generate(model, inputs, num_beams=1)
  beam = generate(model, inputs, num_beams=NUM_BEAMS)
  margins = [(top[:, 0] - top[:, 1]) for top in (step.topk(2, dim=-1).values for step in greedy.scores)]
  finite = [m[torch.isfinite(m)] for m in margins]
  return dict(
    greedy_sequences=greedy.sequences.tolist(),
    greedy_tokens=[trim(r, eos) for r in greedy.sequences.tolist()],
    beam_sequences=beam.sequences.tolist(),
    beam_tokens=[trim(r, eos) for r in beam.sequences.tolist()],
    beam_sequences_scores=[float(s) for s in beam.sequences_scores.tolist()],
    greedy_min_margin=min(float(m.min()) for m in finite if m.numel() > 0),
  )


def is_interesting(name: str, model, inputs, gen: dict) -> bool:
  eos = model.generation_config.eos_token_id
  g, b = gen["greedy_tokens"], gen["beam_tokens"]
  limit = CNN_STYLE["max_length"] - 1 if name == "bart_generation" else None
  # Some rows end early and some run to the limit (where bart_generation forces EOS).
  early = any(t[-1] == eos and len(t) < (limit or len(t) + 1) for t in g + b)
  full = any((len(t) == limit) if limit else t[-1] != eos for t in g + b)
  basic = (g != b and early and full
           and all(len(set(t)) >= 3 for t in g + b) and gen["greedy_min_margin"] >= MIN_GREEDY_MARGIN)
  if not basic or name != "bart_generation":
    return basic
  # Every setting under test must matter: neutralising it changes greedy or beam outputs.
  for key, value in NEUTRAL.items():
    saved = getattr(model.generation_config, key)
    setattr(model.generation_config, key, value)
    changed = run_generation(model, inputs)
    setattr(model.generation_config, key, saved)
    if changed["greedy_tokens"] == g and changed["beam_tokens"] == b:
      return False
  return True


def rewrite_json(path: str, edit) -> None:
  with open(path) as f:
    value = json.load(f)
  edit(value)
  with open(path, "w") as f:
    json.dump(value, f, indent=2, sort_keys=True)
    f.write("\n")


def hub_style_config(name: str, folder: str) -> None:
  """Spell config.json as the Hub's checkpoints do (transformers 5.x writes
  `tie_word_embeddings: true` for every T5 and mT5)."""
  def edit(cfg):
    if name in ("flan_t5", "mt5_sharded"):
      cfg["tie_word_embeddings"] = False
      cfg.pop("scale_decoder_outputs", None)
    if name == "flan_t5":
      cfg.update(n_positions=512, output_past=True, task_specific_params={
        "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
                          "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "}})
  rewrite_json(os.path.join(folder, "config.json"), edit)


def save(name: str, model, folder: str) -> None:
  shutil.rmtree(folder, ignore_errors=True)
  if name == "mt5_sharded":
    model.save_pretrained(folder, max_shard_size="25KB")
    assert len([f for f in os.listdir(folder) if f.endswith(".safetensors")]) >= 3, "expected 3+ shards"
  else:
    model.save_pretrained(folder)
  hub_style_config(name, folder)
  if name == "flan_t5":
    # The Hub's flan-t5 generation_config.json: only the special ids.
    rewrite_json(os.path.join(folder, "generation_config.json"),
                 lambda g: [g.pop(k) for k in list(g) if k not in ("decoder_start_token_id", "eos_token_id", "pad_token_id")])


def check_legacy_config(folder: str, model, inputs, gen: dict) -> None:
  """The same settings in an old-style config.json (no generation_config.json)
  give the same outputs: that is what the Swift test of the legacy path expects."""
  with tempfile.TemporaryDirectory() as tmp:
    legacy = os.path.join(tmp, "legacy")
    shutil.copytree(folder, legacy)
    with open(os.path.join(legacy, "generation_config.json")) as f:
      settings = json.load(f)
    os.remove(os.path.join(legacy, "generation_config.json"))
    settings.pop("transformers_version", None)
    rewrite_json(os.path.join(legacy, "config.json"), lambda c: c.update(settings))
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(legacy, attn_implementation="eager").eval()
    assert run_generation(reloaded, inputs) == gen, "config.json generation fields give other outputs"


def make_fixture(name: str, out_root: str) -> dict:
  builder, first_seed, settings = MODELS[name]
  for seed in range(first_seed, first_seed + 3000):
    model = builder(seed)
    model.generation_config = settings(model.config)
    inputs = make_inputs(model.config, seed + 1000)
    with torch.no_grad():
      gen = run_generation(model, inputs)
    if is_interesting(name, model, inputs, gen):
      break
  else:
    raise RuntimeError(f"{name}: no seed gave useful generations")

  folder = os.path.join(out_root, name)
  save(name, model, folder)
  # Everything below comes from the folder as reloaded, so it alone reproduces the record.
  model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
  assert model.lm_head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr() or name in ("bart_generation", "mbart")
  with torch.no_grad():
    reloaded = run_generation(model, inputs)
    assert reloaded == gen, f"{name}: reloading the saved folder changed generate()"
    if name == "bart_generation":
      check_legacy_config(folder, model, inputs, gen)
    forward = {k: v for k, v in inputs.items() if k != "labels"}
    logits = model(**forward).logits
  reference = {k: v.float().contiguous() for k, v in inputs.items()}
  reference["logits"] = logits.float().contiguous()
  save_file(reference, os.path.join(folder, "reference.safetensors"))
  record = dict(model=name, seed=seed, input_seed=seed + 1000,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__),
                beam_num_beams=NUM_BEAMS, input_ids=inputs["input_ids"].tolist(),
                attention_mask=inputs["attention_mask"].tolist(), **gen)
  with open(os.path.join(folder, "generation.json"), "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
  return dict(seed=seed, gen=gen)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default=DEFAULT_OUT, help="fixture root folder")
  parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
  args = parser.parse_args()
  torch.use_deterministic_algorithms(True)
  torch.set_num_threads(1)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()
  os.makedirs(args.out, exist_ok=True)
  for name in args.models:
    info = make_fixture(name, args.out)
    size = sum(os.path.getsize(os.path.join(args.out, name, f)) for f in os.listdir(os.path.join(args.out, name)))
    print(f"{name}: seed {info['seed']}, {size / 1e3:.0f} KB")
    for key in ("greedy_tokens", "beam_tokens"):
      for row in info["gen"][key]:
        print(f"  {key:13s} {row}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
