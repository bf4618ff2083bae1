"""PyTorch reference for `cargo bench --bench train`: trains the same architecture as
`benches/reference.nas` (same sizes, batch, sequence length, optimizer, clipping) on the
same corpus and prints one JSON line with its throughput.

Run by the benchmark itself when `NASC_TORCH_PYTHON` (or `python3`) can import torch:

    python3 benches/train_reference.py --steps 30 --threads 2
"""

import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d)
        self.up = nn.Linear(d, hidden)
        self.down = nn.Linear(hidden, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.ln1(x)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)), is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Model(nn.Module):
    def __init__(self, vocab, d, heads, hidden, layers, context):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.positions = nn.Parameter(torch.randn(context, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads, hidden) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.positions[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "data", "tiny_shakespeare.txt"))
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    data = torch.tensor(list(open(args.corpus, "rb").read()), dtype=torch.long)
    train = data[: int(len(data) * 0.9)]
    model = Model(256, args.width, args.heads, args.hidden, args.layers, args.context)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    gen = torch.Generator().manual_seed(0)

    def step():
        starts = torch.randint(0, len(train) - args.context - 1, (args.batch,), generator=gen)
        x = torch.stack([train[s : s + args.context] for s in starts])
        y = torch.stack([train[s + 1 : s + args.context + 1] for s in starts])
        loss = F.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup_steps):
        step()
    start = time.perf_counter()
    losses = [step() for _ in range(args.steps)]
    secs = time.perf_counter() - start
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "ms_per_step": 1000 * secs / args.steps,
        "tokens_per_s": args.steps * args.batch * args.context / secs,
        "last_loss": losses[-1],
    }))


if __name__ == "__main__":
    main()
