#!/usr/bin/env python3
"""Checks that Hugging Face transformers computes the same logits as gamba for a checkpoint.

    npx gamba logits --checkpoint DIR --data DATASET --games 100 --out gamba-logits.json
    python3 tools/hf-check.py --checkpoint DIR --logits gamba-logits.json [--tolerance 1e-4]

Loads DIR with AutoModelForCausalLM.from_pretrained (MambaForCausalLM for a Mamba, GPT2LMHeadModel for
the transformer; fp16 and bf16 weights are widened to float32, as gamba
does), runs it on the tokens of the logits file (written by `gamba logits`) in float32, and prints one
JSON line: the largest and mean absolute difference of the logits, and how often the two agree on the
most likely next token. Exit status 1 when the largest difference exceeds --tolerance.

Needs torch and transformers; runs on the CPU unless --device says otherwise (on a GPU, TF32 is turned
off so the products stay float32).
"""
import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkpoint', required=True, help='model directory (config.json + model.safetensors)')
    parser.add_argument('--logits', required=True, help='JSON file written by `gamba logits`')
    parser.add_argument('--device', default='cpu', help='torch device (cpu, cuda)')
    parser.add_argument('--batch', type=int, default=64, help='games per forward pass')
    parser.add_argument('--tolerance', type=float, default=None, help='fail when the largest difference exceeds this')
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    try:
        with open(args.logits) as f:
            expected = json.load(f)
    except (OSError, ValueError) as error:
        print(f'hf-check: {args.logits}: cannot read ({error})', file=sys.stderr)
        return 2
    if expected.get('format') != 'gamba-logits':
        print(f'hf-check: {args.logits}: not a `gamba logits` file', file=sys.stderr)
        return 2

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    started = time.time()
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype=torch.float32).to(args.device).eval()
    load_seconds = time.time() - started

    tokens = torch.tensor(expected['tokens'], dtype=torch.long)  # (G, L)
    ours = torch.tensor(expected['logits'], dtype=torch.float32)  # (G, L, V)
    theirs = []
    with torch.no_grad():
        for start in range(0, tokens.shape[0], args.batch):
            batch = tokens[start:start + args.batch].to(args.device)
            theirs.append(model(input_ids=batch, use_cache=False).logits.float().cpu())
    theirs = torch.cat(theirs)  # (G, L, V)
    if theirs.shape != ours.shape:
        print(f'hf-check: logits of shape {tuple(theirs.shape)} from transformers but {tuple(ours.shape)} in {args.logits}', file=sys.stderr)
        return 2

    diff = (theirs - ours).abs()
    agree = (theirs.argmax(-1) == ours.argmax(-1)).float().mean().item()
    result = {
        'checkpoint': args.checkpoint,
        'model': type(model).__name__,
        'gambaBackend': expected.get('backend'),
        'transformers': transformers.__version__,
        'torch': torch.__version__,
        'device': args.device,
        'games': tokens.shape[0],
        'positions': tokens.shape[0] * tokens.shape[1],
        'maxAbsDiff': diff.max().item(),
        'meanAbsDiff': diff.mean().item(),
        'logitScale': ours.abs().max().item(),
        'argmaxAgreement': agree,
        'loadSeconds': round(load_seconds, 2),
    }
    print(json.dumps(result))
    if args.tolerance is not None and result['maxAbsDiff'] > args.tolerance:
        print(f'hf-check: largest difference {result["maxAbsDiff"]:.3g} exceeds --tolerance {args.tolerance:g}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
