"""SimpleRNN's pass runs its step loops on one thread and gives the fit's count back; its
values and gradients stay those of the plain torch step loop."""

from __future__ import annotations

import pytest
import torch

from statdl.layers._simple_rnn_pass import simple_rnn


def _loop(x, kernel, rec, bias, relu, return_sequences):
    """The recurrence step by step on autograd (the independent reference)."""
    act = torch.relu if relu else torch.tanh
    h = x.new_zeros(x.shape[0], rec.shape[0])
    outs = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ kernel + h @ rec + bias)
        outs.append(h)
    return torch.stack(outs, 1) if return_sequences else h


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_step_loops_give_back_the_thread_count(relu, return_sequences):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(5)
        x = torch.randn(6, 7, 3, dtype=torch.float64)
        weights = [torch.randn(3, 4, dtype=torch.float64) * 0.5,
                   torch.randn(4, 4, dtype=torch.float64) * 0.5,
                   torch.randn(4, dtype=torch.float64) * 0.1]
        upstream = torch.randn(6, 7, 4, dtype=torch.float64)
        if not return_sequences:
            upstream = upstream[:, -1]
        ours = [t.clone().requires_grad_(True) for t in (x, *weights)]
        out = simple_rnn(*ours, relu=relu, return_sequences=return_sequences)
        assert torch.get_num_threads() == 2  # forward loop ran, count given back
        (out * upstream).sum().backward()
        assert torch.get_num_threads() == 2  # backward loop ran, count given back
        ref = [t.clone().requires_grad_(True) for t in (x, *weights)]
        expected = _loop(*ref, relu, return_sequences)
        (expected * upstream).sum().backward()
        torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-10)
    finally:
        torch.set_num_threads(before)
