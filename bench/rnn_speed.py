"""Training speed of statdl's Embedding + LSTM against plain torch ``nn.Embedding`` + ``nn.LSTM``.

The task of the course's IMDB lab: ``Embedding(10000, 8) -> LSTM(32) -> Dense(1, sigmoid)`` on
sequences of length 500, batch 128, binary cross-entropy, RMSprop. One training step is forward,
backward and update. Prints samples per second for both and their ratio (ours / torch).

Run ``python bench/rnn_speed.py [--steps 20] [--repeats 3] [--seq-len 500]``.

``--simple-rnn`` instead times one training step (forward, backward, RMSprop update) of
``Embedding(10000, 8) -> SimpleRNN(32) -> Dense(1, sigmoid)`` with SimpleRNN's own pass
(hand-written BPTT, the default) against torch's fused ``rnn_tanh`` (the old path), for every
``--seq-lens`` x ``--batches``, plus the no-gradient forward pass (inference) of the SimpleRNN
module alone, old against new.

``--gru`` does the same for ``Embedding(10000, 8) -> GRU(32) -> Dense(1, sigmoid)``: GRU's own
pass (hand-written BPTT, the default on CPU for training) against torch's fused ``torch.gru``;
its no-gradient forward runs ``torch.gru`` either way.

``--lstm`` does the same for ``Embedding(10000, 8) -> LSTM(32) -> Dense(1, sigmoid)``: LSTM's
own passes (``_lstm_train_pass`` with gradients, forced here although float32 training keeps
oneDNN's ``torch.lstm`` by default, see ``recurrent_cells.onednn_lstm``; ``_lstm_pass``
without) against ``torch.lstm``; ``--no-onednn`` turns oneDNN off for both, the case where the
training pass is the default. ``--background N`` times while N busy processes
(``bench/_background.py``) compete for the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Iterator

import torch
from _background import busy_background, check_count
from torch import nn

from statdl.layers import recurrent_cells
from statdl.layers.core import Dense
from statdl.layers.embedding import Embedding
from statdl.layers.recurrent import GRU, LSTM, SimpleRNN

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


def rnn_net(layer_cls: type, seq_len: int) -> nn.Module:
    """Embedding(10000, 8) -> ``layer_cls(32)`` -> Dense(1, sigmoid)."""
    emb, rnn, head = Embedding(VOCAB, DIM), layer_cls(UNITS), Dense(1, activation="sigmoid")
    return nn.Sequential(emb.build((seq_len,)), rnn.build((seq_len, DIM)),
                         head.build((UNITS,)))


def _best_ms(fn, steps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return 1000 * (time.perf_counter() - start) / steps


def _time_pass(layer_cls: type, switch: str, seq_len: int, batch: int, steps: int,
                 repeats: int) -> dict[str, float]:
    """Best ms per call over ``repeats`` interleaved runs of ``steps`` calls each.

    ``switch`` names the ``RecurrentModule`` class attribute turning the layer's pass on.
    """
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (batch, seq_len))
    y = torch.randint(0, 2, (batch,)).float()
    net = rnn_net(layer_cls, seq_len)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCELoss()
    net.train()
    rnn = net[1]
    x = net[0](ids).detach()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(net(ids).squeeze(-1), y).backward()
        opt.step()

    def forward() -> None:
        with torch.no_grad():
            rnn(x)

    times: dict[str, list[float]] = {"old": [], "new": [], "inf_old": [], "inf_new": []}
    default = getattr(recurrent_cells.RecurrentModule, switch)
    try:
        for _ in range(repeats):  # interleaved, to share any drift of the machine
            for use_pass, key in ((False, "old"), (True, "new")):
                setattr(recurrent_cells.RecurrentModule, switch, use_pass)
                times[key].append(_best_ms(step, steps))
                times["inf_" + key].append(_best_ms(forward, steps))
    finally:
        setattr(recurrent_cells.RecurrentModule, switch, default)
    return {k: min(v) for k, v in times.items()}


@contextlib.contextmanager
def _lstm_train_pass_forced(no_onednn: bool) -> Iterator[None]:
    """LSTM training runs ``_lstm_train_pass`` whenever ``lstm_pass`` is on; with
    ``no_onednn`` torch's oneDNN is off too (``torch.lstm`` then runs its step-by-step cell)."""
    default = recurrent_cells.onednn_lstm
    recurrent_cells.onednn_lstm = lambda x: False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # oneDNN's TF32 notice on every switch
            with torch.backends.mkldnn.flags(enabled=not no_onednn):
                yield
    finally:
        recurrent_cells.onednn_lstm = default


def compare_pass(layer_cls: type, switch: str, seq_lens: list[int], batches: list[int],
                   steps: int, repeats: int) -> list[tuple[int, int, dict[str, float]]]:
    """ms per training step, old (torch fused) vs new (pass), for each length and batch."""
    rows = []
    for seq_len in seq_lens:
        for batch in batches:
            best = _time_pass(layer_cls, switch, seq_len, batch, steps, repeats)
            rows.append((seq_len, batch, best))
            print(f"len {seq_len:4d} batch {batch:4d}: train step old {best['old']:7.2f} ms, "
                  f"new {best['new']:7.2f} ms, speed-up {best['old'] / best['new']:5.2f}x | "
                  f"no-grad forward old {best['inf_old']:6.2f} ms, new "
                  f"{best['inf_new']:6.2f} ms", flush=True)
    return rows


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=500)
    parser.add_argument("--simple-rnn", action="store_true",
                        help="time SimpleRNN's pass against torch's fused rnn_tanh")
    parser.add_argument("--gru", action="store_true",
                        help="time GRU's pass against torch's fused gru")
    parser.add_argument("--lstm", action="store_true",
                        help="time LSTM's passes against torch's fused lstm")
    parser.add_argument("--no-onednn", action="store_true",
                        help="with --lstm: torch.lstm without oneDNN (torch's step-by-step cell)")
    parser.add_argument("--background", type=int, default=0, metavar="N",
                        help="busy processes competing for the cores while timing")
    parser.add_argument("--seq-lens", type=int, nargs="+", default=[100, 20])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args(argv)
    if args.simple_rnn or args.gru or args.lstm:
        print(f"torch threads: {torch.get_num_threads()}, busy processes: {args.background}")
        layer_cls, switch = ((GRU, "gru_pass") if args.gru
                             else (LSTM, "lstm_pass") if args.lstm
                             else (SimpleRNN, "simple_rnn_pass"))
        with contextlib.ExitStack() as stack:
            if args.lstm:
                stack.enter_context(_lstm_train_pass_forced(args.no_onednn))
            stack.enter_context(busy_background(check_count(args.background)))
            rows = compare_pass(layer_cls, switch, args.seq_lens, args.batches, args.steps,
                                  args.repeats)
        return min(best["old"] / best["new"] for _, _, best in rows)
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
