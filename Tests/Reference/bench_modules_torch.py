#!/usr/bin/env python3
"""PyTorch CPU peer of `tessera bench modules`: one module-training step.

The step is the one `tessera modules train` takes after its local stage with
sampling `every` and every span replaced:
  1. the frozen teacher's pass without gradients, recording the hidden state at
     every layer boundary, its logits, and the self-attention probabilities of
     the layers that end a module's span;
  2. for each granularity, the hybrid whose modules replace every aligned span
     of both stacks: it starts from the teacher's recorded state where it first
     differs (the whole decoder runs again when the encoder changed), and its
     loss is cross-entropy + T^2 KL to the teacher's logits + the mean relative
     hidden-state error at span ends + the mean attention error; each hybrid's
     backward runs as soon as its loss is known (one graph alive at a time);
  3. AdamW on the modules.
The layers are transformers' own (T5Block; BartEncoderLayer/BartDecoderLayer),
driven by the loop below, with eager attention (the attention term needs the
probabilities). Teacher, modules and batch come from what Tessera wrote, so
the first step's loss must match Tessera's. Prints one JSON object.

Usage:
  python3 Tests/Reference/bench_modules_torch.py --teacher DIR --inputs DIR [--granularities 2,3,4,6] [--steps 3] [--threads 2]
"""

import argparse
import json
import resource
import statistics
import sys
import time

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM
from transformers.models.bart.modeling_bart import BartDecoderLayer, BartEncoderLayer
from transformers.models.t5.modeling_t5 import T5Block


def parse_args():
  p = argparse.ArgumentParser(description="PyTorch CPU module-training step (the peer of tessera bench modules).")
  p.add_argument("--teacher", required=True, help="teacher model folder (config.json + model.safetensors)")
  p.add_argument("--inputs", required=True, help="folder with modules.safetensors and batch.json (written by Tessera)")
  p.add_argument("--granularities", default="2,3,4,6")
  p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--temperature", type=float, default=2.0)
  p.add_argument("--lr", type=float, default=1e-4)
  return p.parse_args()


class T5Stacks:
  """Embedding, blocks, final norm and head of a T5, as the hybrid loop needs them."""

  def __init__(self, model):
    self.model = model
    self.stacks = {"encoder": model.encoder, "decoder": model.decoder}

  def blocks(self, stack):
    return self.stacks[stack].block

  def new_block(self, stack):
    return T5Block(self.stacks[stack].config, has_relative_attention_bias=False)

  def embed(self, stack, ids):
    return self.stacks[stack].embed_tokens(ids)

  def context(self, stack, length, memory):
    attention = self.stacks[stack].block[0].layer[0].SelfAttention
    bias = attention.compute_bias(length, length)
    if stack == "decoder":
      bias = bias + causal_mask(length, bias.dtype)
    return {"bias": bias, "memory": memory}

  def run(self, block, hidden, context):
    return block(hidden, attention_mask=None, position_bias=context["bias"],
                 encoder_hidden_states=context["memory"])[0]

  def attention_module(self, block):
    return block.layer[0].SelfAttention

  def finish(self, stack, hidden):
    return self.stacks[stack].final_layer_norm(hidden)

  def logits(self, hidden):
    if self.model.config.scale_decoder_outputs:
      hidden = hidden * (self.model.model_dim ** -0.5)
    return self.model.lm_head(hidden)


class BartStacks:
  """The same for a (post-norm) BART."""

  def __init__(self, model):
    self.model = model
    self.stacks = {"encoder": model.model.encoder, "decoder": model.model.decoder}

  def blocks(self, stack):
    return self.stacks[stack].layers

  def new_block(self, stack):
    layer = BartEncoderLayer if stack == "encoder" else BartDecoderLayer
    return layer(self.model.config)

  def embed(self, stack, ids):
    part = self.stacks[stack]
    return part.layernorm_embedding(part.embed_tokens(ids) + part.embed_positions(ids))

  def context(self, stack, length, memory):
    mask = causal_mask(length, torch.float32) if stack == "decoder" else None
    return {"mask": mask, "memory": memory}

  def run(self, block, hidden, context):
    if context["memory"] is None:
      return block(hidden, attention_mask=context["mask"])
    return block(hidden, attention_mask=context["mask"], encoder_hidden_states=context["memory"], use_cache=False)

  def attention_module(self, block):
    return block.self_attn

  def finish(self, stack, hidden):
    return hidden

  def logits(self, hidden):
    return self.model.lm_head(hidden) + self.model.final_logits_bias


def causal_mask(length, dtype):
  mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype).triu(1)
  return mask[None, None]


class AttentionTap:
  """Keeps the self-attention probabilities of a block's last forward."""

  def __init__(self, module):
    self.value = None
    module.register_forward_hook(self.hook)

  def hook(self, module, inputs, outputs):
    self.value = outputs[2] if len(outputs) > 2 else outputs[1]


def spans(depth, g):
  return [(i * g, (i + 1) * g) for i in range(depth // g)]


def plan(depths, g):
  """Every aligned span of g replaced in both stacks: per stack, a list of
  ('teacher', layer) and ('module', start, end) pieces."""
  pieces = {}
  for stack, depth in depths.items():
    starts = {start: end for start, end in spans(depth, g)}
    layer, out = 0, []
    while layer < depth:
      if layer in starts:
        out.append(("module", layer, starts[layer]))
        layer = starts[layer]
      else:
        out.append(("teacher", layer))
        layer += 1
    pieces[stack] = out
  return pieces


def relative_error(hidden, target):
  return ((hidden - target) ** 2).sum() / (target ** 2).sum().clamp_min(1e-12)


def attention_error(student, reference):
  b, h, t = student.shape[:3]
  return ((student - reference) ** 2).sum() / (b * t * h)


class Step:
  def __init__(self, stacks, modules, batch, granularities, temperature):
    self.stacks, self.modules, self.batch, self.temperature = stacks, modules, batch, temperature
    self.depths = {s: len(stacks.blocks(s)) for s in ("encoder", "decoder")}
    usable = [g for g in granularities if any(d >= g for d in self.depths.values())]
    self.plans = [(g, plan(self.depths, g)) for g in usable]
    self.taps = {}
    for stack in self.depths:
      for index, block in enumerate(stacks.blocks(stack)):
        self.taps[(stack, "teacher", index)] = AttentionTap(stacks.attention_module(block))
    for key, block in modules.items():
      self.taps[key] = AttentionTap(stacks.attention_module(block))

  def teacher_pass(self):
    """Hidden states at every boundary, attention at every layer, memory and logits."""
    record = {}
    with torch.no_grad():
      for stack, ids in (("encoder", self.batch["source_ids"]), ("decoder", self.batch["decoder_input_ids"])):
        memory = record.get(("encoder", "output"))
        context = self.stacks.context(stack, ids.shape[1], memory)
        hidden = self.stacks.embed(stack, ids)
        states = [hidden]
        for index, block in enumerate(self.stacks.blocks(stack)):
          hidden = self.stacks.run(block, hidden, context)
          states.append(hidden)
          record[(stack, "attention", index)] = self.taps[(stack, "teacher", index)].value
        record[(stack, "states")] = states
        record[(stack, "context")] = context
        record[(stack, "output")] = self.stacks.finish(stack, hidden)
      record["logits"] = self.stacks.logits(record[("decoder", "output")])
    return record

  def run_stack(self, stack, pieces, record, context, hidden, terms):
    states = record[(stack, "states")]
    first = next(i for i, piece in enumerate(pieces) if piece[0] == "module") if hidden is None else 0
    if hidden is None:
      hidden = states[pieces[first][1]]
    blocks = self.stacks.blocks(stack)
    for piece in pieces[first:]:
      if piece[0] == "teacher":
        hidden = self.stacks.run(blocks[piece[1]], hidden, context)
        continue
      _, start, end = piece
      key = (stack, start, end)
      hidden = self.stacks.run(self.modules[key], hidden, context)
      terms["hidden"].append(relative_error(hidden, states[end]))
      terms["attention"].append(attention_error(self.taps[key].value, record[(stack, "attention", end - 1)]))
    return hidden

  def hybrid_loss(self, pieces, record):
    terms = {"hidden": [], "attention": []}
    encoder_changed = any(p[0] == "module" for p in pieces["encoder"])
    if encoder_changed:
      hidden = self.run_stack("encoder", pieces["encoder"], record, record[("encoder", "context")], None, terms)
      memory = self.stacks.finish("encoder", hidden)
      context = self.stacks.context("decoder", self.batch["decoder_input_ids"].shape[1], memory)
      with torch.no_grad():
        start = self.stacks.embed("decoder", self.batch["decoder_input_ids"])
    else:
      context, start = record[("decoder", "context")], None
    hidden = self.run_stack("decoder", pieces["decoder"], record, context, start, terms)
    logits = self.stacks.logits(self.stacks.finish("decoder", hidden))
    vocabulary = logits.shape[-1]
    flat, teacher = logits.reshape(-1, vocabulary), record["logits"].reshape(-1, vocabulary)
    cross_entropy = torch.nn.functional.cross_entropy(flat, self.batch["labels"].reshape(-1), ignore_index=-100)
    t = self.temperature
    kl = torch.nn.functional.kl_div(
      torch.log_softmax(flat / t, dim=-1), torch.log_softmax(teacher / t, dim=-1), log_target=True,
      reduction="batchmean") * t * t
    total = cross_entropy + kl
    for name in ("hidden", "attention"):
      if terms[name]:
        total = total + torch.stack(terms[name]).mean()
    return total

  def __call__(self, optimizer):
    optimizer.zero_grad(set_to_none=True)
    record = self.teacher_pass()
    value = 0.0
    for _, pieces in self.plans:
      loss = self.hybrid_loss(pieces, record)
      loss.backward()
      value += loss.item()
    optimizer.step()
    return value


def load_modules(stacks, path):
  """Modules by (stack, start, end) from Tessera's `<stack>.g<g>.<index>.<block key>` tensors."""
  groups = {}
  for key, tensor in load_file(path).items():
    stack, granularity, index, rest = key.split(".", 3)
    groups.setdefault((stack, int(granularity[1:]), int(index)), {})[rest] = tensor
  modules = {}
  for (stack, g, index), state in groups.items():
    block = stacks.new_block(stack)
    block.load_state_dict(state, strict=True)
    block.eval()
    modules[(stack, index * g, (index + 1) * g)] = block
  return modules


def main() -> int:
  args = parse_args()
  torch.set_num_threads(args.threads)
  transformers.logging.set_verbosity_error()
  transformers.utils.logging.disable_progress_bar()
  teacher = AutoModelForSeq2SeqLM.from_pretrained(args.teacher, attn_implementation="eager")
  teacher.eval()
  teacher.requires_grad_(False)
  model_type = teacher.config.model_type
  if model_type == "t5":
    stacks = T5Stacks(teacher)
  elif model_type == "bart":
    stacks = BartStacks(teacher)
  else:
    raise SystemExit(f"bench_modules_torch.py: model_type {model_type!r} is not supported (t5 or bart)")
  modules = load_modules(stacks, f"{args.inputs}/modules.safetensors")
  with open(f"{args.inputs}/batch.json") as f:
    batch = {key: torch.tensor(value, dtype=torch.long) for key, value in json.load(f).items()}
  granularities = [int(g) for g in args.granularities.split(",")]
  step = Step(stacks, modules, batch, granularities, args.temperature)
  parameters = [p for block in modules.values() for p in block.parameters()]
  optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)

  first_loss = step(optimizer)  # warm-up: allocator, optimizer state
  times = []
  for _ in range(args.steps):
    start = time.perf_counter()
    step(optimizer)
    times.append(time.perf_counter() - start)
  report = {
    "framework": "pytorch", "torch": torch.__version__, "transformers": transformers.__version__,
    "threads": torch.get_num_threads(), "model_type": model_type,
    "modules": len(modules), "module_parameters": sum(p.numel() for p in parameters),
    "plans": [g for g, _ in step.plans],
    "first_loss": first_loss, "step_seconds": times, "median_step_seconds": statistics.median(times),
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
  }
  print(json.dumps(report, indent=2))
  return 0


if __name__ == "__main__":
  sys.exit(main())
