#!/usr/bin/env python3
"""Writes the seq2seq model parity fixtures for Tessera's Swift tests.

Builds three tiny random Hugging Face models (T5 v1.0, T5 v1.1, BART), runs them
on a padded batch and records what the Swift port must reproduce: logits,
per-layer hidden states, attention probabilities, losses, every parameter's
gradient, greedy and beam-search outputs. The file contract is documented in
Tests/Reference/README.md; keep both in step.

Usage: python3 Tests/Reference/make_fixtures.py [--out DIR] [--models NAME...]
(default DIR: Tests/Seq2SeqModelsTests/Fixtures next to this script's repo).
"""

import argparse
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from transformers import (
  AutoModelForSeq2SeqLM,
  BartConfig,
  BartForConditionalGeneration,
  DynamicCache,
  EncoderDecoderCache,
  GenerationConfig,
  T5Config,
  T5ForConditionalGeneration,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "Tests", "Seq2SeqModelsTests", "Fixtures")

# Padded batch geometry shared by all models. S and T exceed the T5 fixtures'
# relative_attention_max_distance (16) so the clamped bucket is exercised.
SOURCE_LENGTHS = [20, 13, 6]  # valid tokens per row, S = 20
TARGET_LENGTHS = [18, 11, 5]  # valid labels per row, T = 18
MAX_NEW_TOKENS = 12
NUM_BEAMS = 3
LENGTH_PENALTY = 1.0
EARLY_STOPPING = True
LABEL_SMOOTHING = 0.1
# Smallest top-1 minus top-2 logit gap accepted along the greedy paths.
MIN_GREEDY_MARGIN = 1e-3


# ---------------------------------------------------------------------------
# Model construction


def t5_config(gated: bool) -> T5Config:
  common = dict(
    vocab_size=100,
    d_model=32,
    num_heads=4,
    d_ff=64,
    num_layers=2,
    num_decoder_layers=3,  # different from the encoder on purpose
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
    dropout_rate=0.1,  # realistic value; fixtures run in eval mode so it is inert
    layer_norm_epsilon=1e-6,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
    attn_implementation="eager",
  )
  if gated:
    return T5Config(feed_forward_proj="gated-gelu", d_kv=6, tie_word_embeddings=False, **common)
  return T5Config(feed_forward_proj="relu", d_kv=8, tie_word_embeddings=True, **common)


def bart_config(scale_embedding: bool) -> BartConfig:
  return BartConfig(
    vocab_size=100,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=64,
    activation_function="gelu",
    scale_embedding=scale_embedding,
    dropout=0.1,
    attention_dropout=0.0,
    activation_dropout=0.0,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    decoder_start_token_id=2,
    forced_eos_token_id=None,  # BartConfig defaults this to 2; neutral for a clear spec
    forced_bos_token_id=None,
    tie_word_embeddings=True,
    attn_implementation="eager",
  )


def randomize_norms(model: nn.Module, with_bias: bool) -> None:
  """Norm weights default to 1 (and biases to 0), which would hide a missing
  scale or shift in the port; give them random values instead."""
  for name, p in model.named_parameters():
    if "layer_norm" in name or "layernorm" in name:
      if name.endswith(".weight"):
        p.uniform_(0.5, 1.5)
      elif with_bias and name.endswith(".bias"):
        p.normal_(0.0, 0.1)


@torch.no_grad()
def build_t5(gated: bool, seed: int) -> T5ForConditionalGeneration:
  torch.manual_seed(seed)
  model = T5ForConditionalGeneration(t5_config(gated))
  randomize_norms(model, with_bias=False)
  # With the default init the tied model mostly echoes its input token (the
  # embedding dominates the residual stream) and attention is near uniform;
  # these factors make the outputs depend on context, so bugs change them.
  factors = {".q.weight": 4.0, ".o.weight": 2.0, ".wo.weight": 2.0, "shared.weight": 0.3 if not gated else 1.0}
  for name, p in model.named_parameters():
    for suffix, factor in factors.items():
      if name.endswith(suffix):
        p.mul_(factor)
    if name.endswith("relative_attention_bias.weight"):
      p.normal_(0.0, 0.5)  # default std d_model^-0.5 makes the bias nearly invisible
  if gated:
    # transformers 5.x always ties lm_head to shared at construction, even with
    # tie_word_embeddings=False; give v1.1 its own head as real checkpoints have.
    head = torch.randn(model.config.vocab_size, model.config.d_model) * 0.3
    model.lm_head.weight = nn.Parameter(head)
  return model.eval()


@torch.no_grad()
def build_bart(seed: int, scale_embedding: bool) -> BartForConditionalGeneration:
  torch.manual_seed(seed)
  model = BartForConditionalGeneration(bart_config(scale_embedding))
  sharpen_bart(model, shared_std=0.6)
  randomize_norms(model, with_bias=True)
  model.final_logits_bias.normal_(0.0, 0.5)
  # Random tiny models rarely choose EOS; a bias towards it makes some
  # generations stop early (a real checkpoint's bias row could hold any value).
  model.final_logits_bias[0, model.config.eos_token_id] += 2.0
  return model.eval()


@torch.no_grad()
def sharpen_bart(model: nn.Module, shared_std: float) -> None:
  """BART's default init (std 0.02, zero biases) gives near-uniform outputs;
  sharper queries and larger embeddings make outputs depend on context."""
  for name, p in model.named_parameters():
    if "layer_norm" in name or "layernorm" in name:
      continue
    if name.endswith("shared.weight"):
      p.normal_(0.0, shared_std)
    elif name.endswith("embed_positions.weight"):
      p.normal_(0.0, 2.0)
    elif name.endswith("q_proj.weight"):
      p.normal_(0.0, 8.0 * p.shape[1] ** -0.5)
    elif name.endswith(".weight"):
      p.normal_(0.0, p.shape[1] ** -0.5)
    elif name.endswith(".bias"):
      p.normal_(0.0, 0.1)

# ---------------------------------------------------------------------------
# Inputs


def make_inputs(config, seed: int) -> dict:
  """A right-padded batch. T5 rows are `tokens… eos pad…`; BART rows are
  `bos tokens… eos pad…`. Labels follow the same pattern with -100 padding;
  decoder inputs are labels shifted right behind decoder_start_token_id."""
  g = torch.Generator().manual_seed(seed)
  pad, eos = config.pad_token_id, config.eos_token_id
  bos = getattr(config, "bos_token_id", None) if config.model_type == "bart" else None
  first_free = 3
  S, T = max(SOURCE_LENGTHS), max(TARGET_LENGTHS)

  def rows(lengths, width, fill):
    out = torch.full((len(lengths), width), fill, dtype=torch.long)
    for b, n in enumerate(lengths):
      body = torch.randint(first_free, config.vocab_size, (n,), generator=g)
      if bos is not None:
        body[0] = bos
      body[n - 1] = eos
      out[b, :n] = body
    return out

  input_ids = rows(SOURCE_LENGTHS, S, pad)
  attention_mask = (torch.arange(S)[None, :] < torch.tensor(SOURCE_LENGTHS)[:, None]).long()
  labels = rows(TARGET_LENGTHS, T, -100)
  decoder_input_ids = torch.full_like(labels, pad)
  decoder_input_ids[:, 1:] = labels[:, :-1]
  decoder_input_ids[:, 0] = config.decoder_start_token_id
  decoder_input_ids[decoder_input_ids == -100] = pad
  decoder_attention_mask = (labels != -100).long()
  return dict(
    input_ids=input_ids,
    attention_mask=attention_mask,
    decoder_input_ids=decoder_input_ids,
    decoder_attention_mask=decoder_attention_mask,
    labels=labels,
  )


# ---------------------------------------------------------------------------
# Generation


def generation_config(config) -> GenerationConfig:
  """Every knob `generate` reads, set explicitly so the Swift side has one spec.
  Beam settings are passed to the beam `generate` call (a saved config with
  early_stopping and num_beams=1 is refused by transformers)."""
  return GenerationConfig(
    decoder_start_token_id=config.decoder_start_token_id,
    bos_token_id=getattr(config, "bos_token_id", None),
    eos_token_id=config.eos_token_id,
    pad_token_id=config.pad_token_id,
    forced_bos_token_id=None,
    forced_eos_token_id=None,
    min_length=0,
    min_new_tokens=None,
    no_repeat_ngram_size=0,
    repetition_penalty=1.0,
    length_penalty=1.0,
    do_sample=False,
    num_beams=1,
    max_new_tokens=MAX_NEW_TOKENS,
    use_cache=True,
  )


def trim(row: list, eos: int) -> list:
  """Generated tokens after the decoder start token, up to and including the first EOS."""
  out = []
  for t in row[1:]:
    out.append(t)
    if t == eos:
      break
  return out


def run_generation(model, inputs) -> dict:
  gen = model.generation_config
  eos = gen.eos_token_id
  def kwargs():
    # transformers 5.x sizes generate()'s own cache from `num_layers`, which
    # breaks T5 with num_decoder_layers > num_layers; a lazily grown cache works.
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    return dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], past_key_values=cache)

  greedy = model.generate(**kwargs(), num_beams=1, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                          return_dict_in_generate=True, output_scores=True)
  beam = model.generate(**kwargs(), num_beams=NUM_BEAMS, do_sample=False, max_new_tokens=MAX_NEW_TOKENS,
                        length_penalty=LENGTH_PENALTY, early_stopping=EARLY_STOPPING,
                        num_return_sequences=1, return_dict_in_generate=True, output_scores=True)
  greedy_rows = greedy.sequences.tolist()
  beam_rows = beam.sequences.tolist()
  return dict(
    greedy_sequences=greedy_rows,
    greedy_tokens=[trim(r, eos) for r in greedy_rows],
    beam_sequences=beam_rows,
    beam_tokens=[trim(r, eos) for r in beam_rows],
    beam_sequences_scores=[float(s) for s in beam.sequences_scores.tolist()],
    greedy_min_margin=min(float((top[:, 0] - top[:, 1]).min()) for top in
                          (step.topk(2, dim=-1).values for step in greedy.scores)),
  )


def generation_is_interesting(gen: dict, config) -> bool:
  """Several distinct tokens, some rows ending with EOS before the limit and
  some not, beam search disagreeing with greedy somewhere, no generated pad
  tokens, and greedy choices that float32 rounding cannot flip."""
  eos, pad = config.eos_token_id, config.pad_token_id

  def early(tokens):
    return tokens[-1] == eos and 3 <= len(tokens) < MAX_NEW_TOKENS

  def full(tokens):
    return len(tokens) == MAX_NEW_TOKENS and eos not in tokens

  g, b = gen["greedy_tokens"], gen["beam_tokens"]
  return (any(map(early, g)) and any(map(full, g)) and any(map(early, b)) and g != b
          and all(len(set(t)) >= 3 for t in g + b) and not any(pad in t for t in g + b)
          and gen["greedy_min_margin"] >= MIN_GREEDY_MARGIN)


# ---------------------------------------------------------------------------
# Forward / backward records


def check_hidden_state_semantics(model, inputs, out) -> None:
  """Asserts the README's statement of what hidden_states[i] is, using hooks."""
  is_t5 = model.config.model_type == "t5"
  seen = {"encoder": [], "decoder": []}
  hooks = []
  for side in ("encoder", "decoder"):
    stack = getattr(model, side) if is_t5 else getattr(model.model, side)
    blocks = stack.block if is_t5 else stack.layers

    def first_input(mod, args, side=side):
      seen[side].append(args[0].detach().clone())

    def output(mod, args, result, side=side):
      hidden = result[0] if isinstance(result, tuple) else result
      seen[side].append(hidden.detach().clone())

    hooks.append(blocks[0].register_forward_pre_hook(first_input))
    for blk in blocks:
      hooks.append(blk.register_forward_hook(output))
    if is_t5:
      hooks.append(stack.final_layer_norm.register_forward_hook(output))
  with torch.no_grad():
    model(**{k: v for k, v in inputs.items() if k != "labels"})
  for h in hooks:
    h.remove()
  for side, recorded in (("encoder", out.encoder_hidden_states), ("decoder", out.decoder_hidden_states)):
    got = seen[side]
    # got = [input of block 0, block outputs..., (T5) final norm output]
    expected = got[:-2] + [got[-1]] if is_t5 else got
    assert len(expected) == len(recorded), (side, len(expected), len(recorded))
    for a, b in zip(expected, recorded):
      assert torch.equal(a, b), f"{side} hidden state semantics differ from the README"


def relative_buckets(model, q_len: int, k_len: int, bidirectional: bool) -> torch.Tensor:
  attn = model.encoder.block[0].layer[0].SelfAttention
  context = torch.arange(q_len)[:, None]
  memory = torch.arange(k_len)[None, :]
  return attn._relative_position_bucket(
    memory - context,
    bidirectional=bidirectional,
    num_buckets=model.config.relative_attention_num_buckets,
    max_distance=model.config.relative_attention_max_distance,
  )


def record_reference(model, inputs) -> dict:
  forward_inputs = {k: v for k, v in inputs.items() if k != "labels"}
  model.zero_grad(set_to_none=True)
  out = model(**forward_inputs, labels=inputs["labels"], output_hidden_states=True, output_attentions=True)
  out.loss.backward()
  logits = out.logits.detach()
  V = logits.shape[-1]
  smoothed = nn.CrossEntropyLoss(ignore_index=-100, label_smoothing=LABEL_SMOOTHING)(
    logits.view(-1, V), inputs["labels"].view(-1))
  manual = nn.CrossEntropyLoss(ignore_index=-100)(logits.view(-1, V), inputs["labels"].view(-1))
  assert torch.allclose(manual, out.loss.detach(), rtol=0, atol=1e-6), "HF loss is not plain mean CE"

  ref = {}
  for key, value in inputs.items():
    ref[key] = value.float()
  ref["logits"] = logits
  ref["loss"] = out.loss.detach().reshape(1)
  ref["loss_label_smoothing"] = smoothed.detach().reshape(1)
  for i, h in enumerate(out.encoder_hidden_states):
    ref[f"encoder_hidden_states.{i}"] = h.detach()
  for i, h in enumerate(out.decoder_hidden_states):
    ref[f"decoder_hidden_states.{i}"] = h.detach()
  for i, a in enumerate(out.encoder_attentions):
    ref[f"encoder_attentions.{i}"] = a.detach()
  for i, a in enumerate(out.decoder_attentions):
    ref[f"decoder_attentions.{i}"] = a.detach()
  for i, a in enumerate(out.cross_attentions):
    ref[f"cross_attentions.{i}"] = a.detach()
  for name, p in model.named_parameters():
    assert p.grad is not None, f"no gradient for {name}"
    ref[f"grad.{name}"] = p.grad.detach().clone()
  if model.config.model_type == "t5":
    S, T = inputs["input_ids"].shape[1], inputs["decoder_input_ids"].shape[1]
    ref["relative_buckets.encoder"] = relative_buckets(model, S, S, True).float()
    ref["relative_buckets.decoder"] = relative_buckets(model, T, T, False).float()
  model.zero_grad(set_to_none=True)
  check_hidden_state_semantics(model, inputs, out)
  return {k: v.contiguous().float() for k, v in ref.items()}


# ---------------------------------------------------------------------------
# Saving


def fix_t5_config_json(folder: str, tied: bool) -> None:
  """transformers 5.x writes `tie_word_embeddings: true` for every T5 and keeps
  the v1.1 distinction in `scale_decoder_outputs`. Write the untied case the way
  real v1.1 checkpoints on the Hub spell it (`tie_word_embeddings: false`), which
  transformers 4.x and 5.x both load correctly."""
  path = os.path.join(folder, "config.json")
  with open(path) as f:
    cfg = json.load(f)
  cfg["tie_word_embeddings"] = tied
  cfg["scale_decoder_outputs"] = tied
  with open(path, "w") as f:
    json.dump(cfg, f, indent=2, sort_keys=True)
    f.write("\n")


def safetensors_keys(path: str) -> list:
  with safe_open(path, "pt") as f:
    return sorted(f.keys())


# name -> (builder, first seed tried). Seeds are searched upwards from the first
# until generation_is_interesting; the chosen seed is recorded.
MODELS = {
  "t5_v1_0": (lambda seed: build_t5(gated=False, seed=seed), 100),
  "t5_v1_1": (lambda seed: build_t5(gated=True, seed=seed), 200),
  "bart": (lambda seed: build_bart(seed, scale_embedding=False), 300),
  "bart_scaled": (lambda seed: build_bart(seed, scale_embedding=True), 400),
}


def build(name: str, seed: int):
  return MODELS[name][0](seed)


def make_fixture(name: str, out_root: str, first_seed: int, max_tries: int = 3000) -> dict:
  for seed in range(first_seed, first_seed + max_tries):
    model = build(name, seed)
    model.generation_config = generation_config(model.config)
    inputs = make_inputs(model.config, seed + 1000)
    with torch.no_grad():
      gen = run_generation(model, inputs)
    if generation_is_interesting(gen, model.config):
      break
  else:
    raise RuntimeError(f"{name}: no seed in {max_tries} tries gave non-trivial generations")

  folder = os.path.join(out_root, name)
  shutil.rmtree(folder, ignore_errors=True)
  model.save_pretrained(folder, safe_serialization=True)
  if name.startswith("t5"):
    fix_t5_config_json(folder, tied=(name == "t5_v1_0"))

  # Record everything from the model as reloaded from the folder, so the
  # fixture folder alone reproduces the reference.
  model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
  model.generation_config = generation_config(model.config)
  if name == "t5_v1_1":
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr(), "v1.1 head got tied on reload"
  reloaded_gen = run_generation(model, inputs)
  assert reloaded_gen == gen, f"{name}: reloading the saved folder changed generate()"
  ref = record_reference(model, inputs)
  # No metadata: its order is not stable, and generation.json has the versions.
  save_file(ref, os.path.join(folder, "reference.safetensors"))

  gen_cfg = model.generation_config.to_diff_dict()
  gen_cfg.pop("transformers_version", None)
  record = dict(
    model=name,
    seed=seed,
    input_seed=seed + 1000,
    versions=dict(torch=torch.__version__, transformers=transformers.__version__),
    settings=dict(
      decoder_start_token_id=model.config.decoder_start_token_id,
      bos_token_id=getattr(model.config, "bos_token_id", None),
      eos_token_id=model.config.eos_token_id,
      pad_token_id=model.config.pad_token_id,
      max_new_tokens=MAX_NEW_TOKENS,
      min_length=0,
      no_repeat_ngram_size=0,
      repetition_penalty=1.0,
      forced_bos_token_id=None,
      forced_eos_token_id=None,
      do_sample=False,
      greedy=dict(num_beams=1),
      beam=dict(num_beams=NUM_BEAMS, length_penalty=LENGTH_PENALTY, early_stopping=EARLY_STOPPING,
                num_return_sequences=1),
      beam_fill_token_id=(model.config.pad_token_id or model.config.eos_token_id),
    ),
    generation_config=gen_cfg,
    input_ids=inputs["input_ids"].tolist(),
    attention_mask=inputs["attention_mask"].tolist(),
    **gen,
  )
  with open(os.path.join(folder, "generation.json"), "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
  weights = safetensors_keys(os.path.join(folder, "model.safetensors"))
  grads = sorted(k[len("grad."):] for k in ref if k.startswith("grad."))
  return dict(name=name, seed=seed, folder=folder, weight_keys=weights, grad_keys=grads, gen=gen)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default=DEFAULT_OUT, help="fixture root folder")
  parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS),
                      help="fixtures to (re)write (default: all)")
  args = parser.parse_args()

  torch.use_deterministic_algorithms(True)
  torch.set_num_threads(1)
  torch.set_default_dtype(torch.float32)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()

  os.makedirs(args.out, exist_ok=True)
  for name in args.models:
    first = MODELS[name][1]
    info = make_fixture(name, args.out, first)
    extra = sorted(set(info["weight_keys"]) - set(info["grad_keys"]))
    print(f"{name}: seed {info['seed']}, {len(info['weight_keys'])} weight keys, "
          f"not parameters: {extra}")
    for key in ("greedy_tokens", "beam_tokens"):
      for row in info["gen"][key]:
        print(f"  {key:13s} {row}")
  total = 0
  for root, _, files in os.walk(args.out):
    total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
  print(f"fixtures: {total / 1e6:.2f} MB in {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
