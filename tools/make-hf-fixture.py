#!/usr/bin/env python3
"""Makes test/fixtures/transformers: small models written by transformers' own save_pretrained (Mamba, and a
GPT-2 for the transformer baseline), and the logits transformers computes with them, for the tests that
gamba loads such models unchanged and computes the same logits.

    python3 tools/make-hf-fixture.py --data datasets/samples/othello --out test/fixtures/transformers

Writes, for each model, DIR/<name>/ (exactly what save_pretrained wrote) and DIR/<name>.logits.safetensors
(`tokens` [G, L] and `logits` [G, L, V], float32: the first G val-split games of --data, fed as gamba
feeds them, and transformers' logits after loading the saved directory back in float32).
Models: tied-bf16 (tied embeddings, bf16 weights) and untied-fp32 (a separate lm_head, fp32 weights),
Mamba's; gpt2-fp32, a GPT2LMHeadModel (tanh GELU, tied head) for the transformer baseline.
Needs torch, transformers, safetensors and numpy.
"""
import argparse
import json
import os
import sys

import numpy as np

SHARD_HEADER_BYTES = 64


def first_val_games(data_dir: str, count: int) -> np.ndarray:
    """The first `count` val-split records of a gamba dataset, as uint8 (count, recordLength)."""
    with open(os.path.join(data_dir, 'manifest.json')) as f:
        manifest = json.load(f)
    length = manifest['recordLength']
    games = []
    for shard in manifest['shards']:
        if shard['split'] != 'val':
            continue
        raw = np.fromfile(os.path.join(data_dir, shard['file']), dtype=np.uint8)
        if raw[:8].tobytes() != b'GAMBASHD':
            raise SystemExit(f'make-hf-fixture: {shard["file"]}: not a gamba shard')
        games.append(raw[SHARD_HEADER_BYTES:].reshape(-1, length))
        if sum(len(g) for g in games) >= count:
            break
    return np.concatenate(games)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='gamba Othello dataset directory')
    parser.add_argument('--out', required=True, help='fixture directory to write')
    parser.add_argument('--games', type=int, default=4)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel, MambaConfig, MambaForCausalLM

    records = first_val_games(args.data, args.games)
    tokens = torch.tensor(records[:, :-1], dtype=torch.long)  # (G, L): inputs as gamba trains on them
    models = {
        'tied-bf16': (True, torch.bfloat16),
        'untied-fp32': (False, torch.float32),
        'gpt2-fp32': (True, torch.float32),
    }
    os.makedirs(args.out, exist_ok=True)
    for name, (tied, dtype) in models.items():
        torch.manual_seed(args.seed)
        if name.startswith('gpt2'):
            config = GPT2Config(
                vocab_size=61, n_embd=16, n_layer=2, n_head=2, n_positions=64, activation_function='gelu_new',
                layer_norm_epsilon=1e-5, pad_token_id=0, bos_token_id=0, eos_token_id=0, tie_word_embeddings=tied,
            )
            model, loader = GPT2LMHeadModel(config).eval(), GPT2LMHeadModel
        else:
            config = MambaConfig(
                vocab_size=61, hidden_size=32, state_size=8, num_hidden_layers=2, expand=2, conv_kernel=4,
                pad_token_id=0, bos_token_id=0, eos_token_id=0, tie_word_embeddings=tied,
            )
            model, loader = MambaForCausalLM(config).eval(), MambaForCausalLM
        # A fresh model's logits are nearly flat; spread the weights so that a wrong op shows.
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if not pname.endswith('A_log'):
                    p.add_(0.2 * torch.randn_like(p))
        target = os.path.join(args.out, name)
        model.to(dtype).save_pretrained(target, safe_serialization=True)
        back = loader.from_pretrained(target, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = back(input_ids=tokens, use_cache=False).logits.float()  # (G, L, V)
        save_file({'tokens': tokens.float().contiguous(), 'logits': logits.contiguous()},
                  os.path.join(args.out, f'{name}.logits.safetensors'), metadata={'format': 'pt'})
        print(json.dumps({'model': name, 'files': sorted(os.listdir(target)), 'logitScale': logits.abs().max().item()}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
