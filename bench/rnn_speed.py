"""Training speed of statdl's Embedding + LSTM against plain torch ``nn.Embedding`` + ``nn.LSTM``.

The task of the course's IMDB lab: ``Embedding(10000, 8) -> LSTM(32) -> Dense(1, sigmoid)`` on
sequences of length 500, batch 128, binary cross-entropy, RMSprop. One training step is forward,
backward and update. Prints samples per second for both and their ratio (ours / torch).

Run ``python bench/rnn_speed.py [--steps 20] [--repeats 3] [--seq-len 500]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from statdl.layers.core import Dense
from statdl.layers.embedding import Embedding
from statdl.layers.recurrent import LSTM

VOCAB, DIM, UNITS = 10000, 8, 32


class TorchNet(nn.Module):
    """The plain torch baseline."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, DIM)
        self.lstm = nn.LSTM(DIM, UNITS, batch_first=True)
        self.head = nn.Linear(UNITS, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.emb(ids))
        return torch.sigmoid(self.head(out[:, -1]))


def statdl_net(seq_len: int) -> nn.Module:
    """The same network from statdl layer specs."""
    emb, lstm, head = Embedding(VOCAB, DIM), LSTM(UNITS), Dense(1, activation="sigmoid")
    return nn.Sequential(emb.build((seq_len,)), lstm.build((seq_len, DIM)),
                         head.build((UNITS,)))


def samples_per_second(net: nn.Module, ids: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCELoss()
    net.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(ids).squeeze(-1), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * ids.shape[0] / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=500)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (args.batch, args.seq_len))
    y = torch.randint(0, 2, (args.batch,)).float()
    ours_net, torch_net = statdl_net(args.seq_len), TorchNet()
    ours, base = [], []
    for _ in range(args.repeats):  # interleave to share any drift of the machine
        ours.append(samples_per_second(ours_net, ids, y, args.steps))
        base.append(samples_per_second(torch_net, ids, y, args.steps))
    o, b = max(ours), max(base)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"statdl Embedding+LSTM : {o:8.1f} samples/s  (runs: {', '.join(f'{v:.0f}' for v in ours)})")
    print(f"plain torch           : {b:8.1f} samples/s  (runs: {', '.join(f'{v:.0f}' for v in base)})")
    print(f"ratio statdl / torch  : {o / b:.3f}")
    return o / b


if __name__ == "__main__":
    main()
