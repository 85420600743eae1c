#!/usr/bin/env python3
"""
Train a gamba Mamba model with PyTorch on one or many GPUs (Hugging Face accelerate, DDP or FSDP).

    python3 train.py --data data/othello-2m --config models/othello-base/config.json --out runs/scale-out
    accelerate launch --num_processes 8 train.py --strategy fsdp --data ... --config ... --out ...
    torchrun --nproc_per_node 8 train.py --strategy ddp --data ... --config ... --out ...

Reads gamba's dataset shards with numpy, trains transformers.MambaForCausalLM by next-token prediction
and saves a Hugging Face directory (model.safetensors + config.json) that `gamba eval|probe|play
--checkpoint DIR` reads. Progress is JSON lines on stdout; bad input is one line on stderr, exit code 2.
"""
import os

# NVLink multicast (NVLS) stays off: a program using it can take shared GPUs out of service.
os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")
os.environ.setdefault("NVSHMEM_DISABLE_NVLS", "1")

import argparse
import json
import math
import sys
import time

import numpy as np  # torch, transformers and accelerate are imported in main(): the data code needs numpy only

IGNORE = -100  # the target id cross_entropy skips


class InputError(Exception):
    """Bad input: reported on one line, exit code 2."""


def check(ok, message):
    if not ok:
        raise InputError(message)


def read_json(path, missing):
    check(os.path.isfile(path), f"{path}: {missing}")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}")


# ---- Data: a gamba dataset directory, read with numpy -----------------------------------------------

class Split:
    """The games of one split: each shard memory-mapped as a uint8 array [games, recordLength]."""

    def __init__(self, shards, record_length):
        self.shards = shards or [np.zeros((0, record_length), np.uint8)]
        self.starts = np.cumsum([0] + [len(s) for s in self.shards])  # first game index of each shard
        self.count = int(self.starts[-1])

    def read(self, idx):
        """The records of games idx (indices into the split), in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(idx), self.shards[0].shape[1]), np.uint8)
        shard_of = np.searchsorted(self.starts, idx, side="right") - 1
        for s in np.unique(shard_of):
            out[shard_of == s] = self.shards[s][idx[shard_of == s] - self.starts[s]]
        return out


def open_dataset(directory):
    """Checks manifest.json and every shard header; returns (manifest, {"train": Split, "val": Split})."""
    path = os.path.join(directory, "manifest.json")
    check(os.path.isdir(directory), f"{directory}: no such dataset directory")
    m = read_json(path, "missing (not a gamba dataset directory)")
    check(isinstance(m, dict) and m.get("format") == "gamba-dataset", f'{path}: "format" is not "gamba-dataset"')
    check(m.get("formatVersion") == 1, f'{path}: unsupported "formatVersion" {m.get("formatVersion")!r} (this script reads 1)')
    check(m.get("tokenBytes") == 1, f'{path}: "tokenBytes" is {m.get("tokenBytes")!r}; only 1-byte tokens are supported')
    for key in ("vocabSize", "recordLength", "padToken"):
        check(isinstance(m.get(key), int), f'{path}: "{key}" must be an integer')
    check(m["recordLength"] >= 2, f'{path}: "recordLength" {m["recordLength"]} leaves nothing to predict')
    m.setdefault("padMode", "token")
    check(m["padMode"] in ("token", "trailing"), f'{path}: "padMode" must be "token" or "trailing"')
    L, shards = m["recordLength"], {"train": [], "val": []}
    for entry in m.get("shards", []):
        file = os.path.join(directory, entry["file"])
        check(entry.get("split") in shards, f'{path}: shard {entry["file"]} has split {entry.get("split")!r}')
        check(os.path.isfile(file), f"{file}: missing (listed in {path})")
        with open(file, "rb") as f:
            header = f.read(64)
        check(len(header) == 64, f"{file}: truncated shard: shorter than the 64-byte header")
        check(header[:8] == b"GAMBASHD", f"{file}: not a gamba shard: magic {header[:8]!r}, expected b'GAMBASHD'")
        version, length, vocab, token_bytes, games = (int(v) for v in np.frombuffer(header, "<u4", 5, 8))
        check(version == 1, f"{file}: unsupported shard format version {version} (this script reads 1)")
        check(length == L, f"{file}: record length {length}, but the manifest says {L}")
        check(vocab == m["vocabSize"] and token_bytes == 1, f"{file}: vocabulary {vocab}, but the manifest says {m['vocabSize']}")
        check(games == entry["games"], f"{file}: holds {games} games, but the manifest says {entry['games']}")
        check(header[32:].hex() == entry.get("sha256"), f"{file}: records checksum differs from the manifest's (stale or swapped shard)")
        check(os.path.getsize(file) == 64 + games * L, f"{file}: {os.path.getsize(file)} bytes, but {games} games take {64 + games * L}")
        if games:
            shards[entry["split"]].append(np.memmap(file, np.uint8, "r", offset=64, shape=(games, L)))
    splits = {name: Split(s, L) for name, s in shards.items()}
    for name, split in splits.items():
        stated = m.get("counts", {}).get(name)
        check(split.count == stated, f'{path}: "counts.{name}" is {stated} but the {name} shards hold {split.count} games')
    return m, splits


def inputs_targets(records, pad, pad_mode):
    """Inputs record[:-1] and targets record[1:] (int64), padding targets -100. 'token': every pad target
    is padding; 'trailing': only the run of pads at the end of a record (chess pads with ' ', id 0, which
    also separates its moves)."""
    x, y = records[:, :-1].astype(np.int64), records[:, 1:].astype(np.int64)
    if pad_mode == "token":
        y[y == pad] = IGNORE
    else:
        L, not_pad = records.shape[1], records != pad
        end = np.where(not_pad.any(axis=1), L - np.argmax(not_pad[:, ::-1], axis=1), 0)  # one past the last move
        y[np.arange(1, L)[None, :] >= end[:, None]] = IGNORE
    return x, y


class GameOrder:
    """The train games of step s: positions s*B .. (s+1)*B-1 of a chain of seeded permutations (one per pass
    over the split). The same for any number of processes; each process then takes its slice."""

    def __init__(self, count, seed):
        self.count, self.seed, self.epoch, self.perm = count, seed, None, None

    def batch(self, step, batch):
        pos = np.arange(step * batch, (step + 1) * batch, dtype=np.int64)
        out, epochs = np.empty(batch, np.int64), pos // self.count
        for e in np.unique(epochs):
            if e != self.epoch:
                self.epoch, self.perm = e, np.random.default_rng([self.seed, int(e)]).permutation(self.count)
            out[epochs == e] = self.perm[pos[epochs == e] % self.count]
        return out


# ---- Model config, optimizer, schedule --------------------------------------------------------------

FLOAT_KEYS = ("time_step_scale", "time_step_min", "time_step_max", "time_step_floor", "layer_norm_epsilon", "initializer_range")


def load_config(path):
    """A MambaConfig from a gamba or Hugging Face config.json (gamba may write the float 1.0 as 1)."""
    from transformers import MambaConfig

    d = read_json(path, "no such config file")
    check(isinstance(d, dict) and d.get("model_type") == "mamba" and "hidden_size" in d,
          f'{path}: not a Hugging Face Mamba config (needs "model_type": "mamba" and "hidden_size")')
    for key in FLOAT_KEYS:
        if isinstance(d.get(key), int) and not isinstance(d.get(key), bool):
            d[key] = float(d[key])
    if "expand" not in d and "intermediate_size" in d:  # MambaConfig derives intermediate_size from expand
        d["expand"] = d["intermediate_size"] // d["hidden_size"]
    try:
        return MambaConfig.from_dict(d)
    except Exception as e:
        raise InputError(f"{path}: not a valid MambaConfig: {(str(e).splitlines() or [type(e).__name__])[0]}")


def is_decayed(name):
    """Weight decay on the weight matrices only: not embeddings, norms, biases, A_log or D (as gamba)."""
    skip = (".bias", "norm.weight", "norm_f.weight", ".A_log", ".D")
    return name.endswith(".weight") and name != "backbone.embeddings.weight" and not name.endswith(skip)


def lr_at(step, args):
    """Linear warmup to --lr, then cosine down to --lr / 10 at the end of the run."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr / 10 + 0.45 * args.lr * (1 + math.cos(math.pi * progress))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a gamba Mamba model with PyTorch + accelerate (DDP or FSDP).")
    p.add_argument("--data", required=True, help="gamba dataset directory (manifest.json + shards)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="config.json (gamba checkpoint or Hugging Face MambaConfig): train from scratch")
    src.add_argument("--init-from", help="checkpoint directory (gamba or Hugging Face) to continue training")
    p.add_argument("--out", required=True, help="output directory (a Hugging Face model directory)")
    p.add_argument("--strategy", choices=["ddp", "fsdp"], default="ddp", help="with several processes (default ddp)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=256, help="global batch in games, split over the processes")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, help="warmup steps (default 5%% of --steps)")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32", help="fp32 as gamba, TF32 matmuls or bf16 autocast")
    p.add_argument("--use-mambapy", action=argparse.BooleanOptionalAction, default=True,
                   help="mamba.py's parallel scan where the mamba-ssm CUDA kernels are absent (default on)")
    p.add_argument("--val-games", type=int, default=1000, help="val-split games for the final val loss")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-every", type=int, default=10)
    args = p.parse_args(argv)
    for name in ("steps", "batch", "log_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    args.warmup = max(1, args.steps // 20) if args.warmup is None else max(1, args.warmup)
    return args


# ---- Training ---------------------------------------------------------------------------------------

def main(args):
    manifest, splits = open_dataset(args.data)
    train, val = splits["train"], splits["val"]
    check(train.count > 0, f"{args.data}: the train split is empty")
    L, pad, pad_mode = manifest["recordLength"], manifest["padToken"], manifest["padMode"]

    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator, FullyShardedDataParallelPlugin
    from accelerate.utils import set_seed
    from transformers import MambaForCausalLM
    from transformers.utils.import_utils import is_mambapy_available

    check(args.init_from is None or os.path.isdir(args.init_from), f"{args.init_from}: no such checkpoint directory")
    config_path = args.config or os.path.join(args.init_from, "config.json")
    config = load_config(config_path)
    check(config.vocab_size == manifest["vocabSize"],
          f"{config_path}: vocab_size {config.vocab_size}, but the dataset {args.data} has vocabSize {manifest['vocabSize']}")
    config.use_mambapy = args.use_mambapy
    config.game = manifest["game"]  # gamba checks it against the game asked for

    fsdp = None
    if args.strategy == "fsdp":  # FSDP2: each MambaBlock one sharded unit
        fsdp = FullyShardedDataParallelPlugin(fsdp_version=2, auto_wrap_policy="transformer_based_wrap",
                                              transformer_cls_names_to_wrap=["MambaBlock"], reshard_after_forward=True)
    accelerator = Accelerator(mixed_precision="bf16" if args.precision == "bf16" else "no", fsdp_plugin=fsdp,
                              cpu=not torch.cuda.is_available())  # without GPUs, torchrun processes join over gloo
    if args.precision == "tf32":
        torch.set_float32_matmul_precision("high")
    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    check(args.batch % world == 0, f"--batch {args.batch} does not split evenly over {world} processes")
    local = args.batch // world
    log = (lambda record: print(json.dumps(record), flush=True)) if accelerator.is_main_process else (lambda record: None)

    set_seed(args.seed)  # the same initial weights on every process
    if args.init_from:
        model = MambaForCausalLM.from_pretrained(args.init_from, config=config, dtype=torch.float32)
    else:
        model = MambaForCausalLM(config)
    named = list(model.named_parameters())
    optimizer = torch.optim.AdamW([{"params": [p for n, p in named if is_decayed(n)], "weight_decay": args.weight_decay},
                                   {"params": [p for n, p in named if not is_decayed(n)], "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    n_params = sum(p.numel() for _, p in named)
    model, optimizer = accelerator.prepare(model, optimizer)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    strategy = args.strategy if world > 1 else "single"
    mambapy = bool(args.use_mambapy and is_mambapy_available())
    log({"event": "start", "game": manifest["game"], "train_games": train.count, "val_games": val.count, "context": L - 1,
         "params": n_params, "processes": world, "strategy": strategy, "device": str(device), "precision": args.precision,
         "global_batch": args.batch, "steps": args.steps, "mambapy": mambapy})
    if args.use_mambapy and not mambapy:
        log({"warning": "the mambapy package is not installed: transformers runs its sequential scan (slower); pip install mambapy"})

    def peak_memory():  # bytes, one entry per process (None on CPU)
        if device.type != "cuda":
            return None
        return accelerator.gather(torch.tensor([torch.cuda.max_memory_allocated(device)], device=device)).tolist()

    def loss_sum(x, y):
        with accelerator.autocast():
            logits = model(input_ids=x, use_cache=False).logits
        return F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=IGNORE, reduction="sum")

    order, train_loss = GameOrder(train.count, args.seed), None
    window_loss, window_targets, window_steps = torch.zeros((), device=device), 0, 0
    model.train()
    start = window_start = time.time()
    for step in range(args.steps):
        lr = lr_at(step, args)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # Every process reads the whole global batch (cheap) so that each knows its number of targets.
        x, y = inputs_targets(train.read(order.batch(step, args.batch)), pad, pad_mode)
        n_targets = int((y != IGNORE).sum())
        x, y = (torch.from_numpy(a[rank * local:(rank + 1) * local]).to(device) for a in (x, y))
        local_sum = loss_sum(x, y)
        # DDP and FSDP average gradients over processes: this gives the gradient of the global per-target mean.
        accelerator.backward(local_sum * world / max(1, n_targets))
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        window_loss += local_sum.detach()
        window_targets, window_steps = window_targets + n_targets, window_steps + 1
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            train_loss = accelerator.reduce(window_loss, "sum").item() / max(1, window_targets)
            now = time.time()
            log({"step": step + 1, "loss": round(train_loss, 5), "lr": lr, "grad_norm": round(float(grad_norm), 4),
                 "tokens_per_sec": round(window_steps * args.batch * (L - 1) / (now - window_start)),
                 "elapsed_s": round(now - start, 2), "peak_memory_bytes": peak_memory()})
            window_loss.zero_()
            window_targets, window_steps, window_start = 0, 0, time.time()
    train_seconds = time.time() - start

    # Val loss over the first val games; every process runs the same number of batches (FSDP needs it).
    model.eval()
    per_process = min(args.val_games, val.count) // world
    mine = np.arange(rank * per_process, (rank + 1) * per_process)
    val_sum, val_targets = torch.zeros((), device=device), torch.zeros((), device=device)
    with torch.no_grad():
        for i in range(0, per_process, local):
            x, y = (torch.from_numpy(a).to(device) for a in inputs_targets(val.read(mine[i:i + local]), pad, pad_mode))
            val_sum += loss_sum(x, y)
            val_targets += (y != IGNORE).sum()
    val_sum, val_targets = accelerator.reduce(val_sum, "sum").item(), accelerator.reduce(val_targets, "sum").item()

    summary = {"event": "summary", "steps": args.steps, "global_batch": args.batch, "processes": world, "strategy": strategy,
               "precision": args.precision, "mambapy": mambapy,
               "tokens_per_sec": round(args.steps * args.batch * (L - 1) / train_seconds),
               "train_seconds": round(train_seconds, 2), "peak_memory_bytes": peak_memory(), "final_train_loss": train_loss,
               "val_loss": val_sum / val_targets if val_targets else None, "val_games": per_process * world,
               "data": args.data, "config": args.config, "init_from": args.init_from, "seed": args.seed, "lr": args.lr}

    # A Hugging Face directory. Under FSDP every process takes part in gathering the full state dict.
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        if config.tie_word_embeddings:  # FSDP's gathered dict holds a separate copy of the tied lm_head
            state_dict.pop("lm_head.weight", None)
        os.makedirs(args.out, exist_ok=True)
        accelerator.unwrap_model(model).save_pretrained(args.out, state_dict=state_dict, safe_serialization=True)
        with open(os.path.join(args.out, "train-summary.json"), "w") as f:
            f.write(json.dumps(summary, indent=2) + "\n")
    log(summary)
    accelerator.wait_for_everyone()
    accelerator.end_training()


if __name__ == "__main__":
    arguments = parse_args()
    try:
        main(arguments)
    except InputError as error:
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"train.py: error: {error}", file=sys.stderr)
        sys.exit(2)
