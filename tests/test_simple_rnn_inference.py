"""SimpleRNN inference in predict-sized batches keeps every thread in its step loop (the
training-sized loop runs on one); the values stay those of the definition, in float64."""

from __future__ import annotations

import pytest
import torch

from statdl.layers import _simple_rnn_pass
from statdl.layers._simple_rnn_pass import simple_rnn
from test_simple_rnn_threads import _loop as _definition  # the recurrence step by step


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("rows", [16, 1024])  # below and at _INFERENCE_THREADS_FROM (32 units)
def test_inference_in_large_batches_matches_the_definition(relu, return_sequences, rows,
                                                           monkeypatch):
    seen = []
    real = torch.Tensor.addmm_

    def spy(self, *args, **kwargs):  # the thread count each step's product runs with
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(rows)
        x = torch.randn(rows, 9, 5, generator=g, dtype=torch.float64)
        kernel = torch.randn(5, 32, generator=g, dtype=torch.float64) * 0.3
        rec = torch.randn(32, 32, generator=g, dtype=torch.float64) * 0.3
        bias = torch.randn(32, generator=g, dtype=torch.float64) * 0.1
        monkeypatch.setattr(torch.Tensor, "addmm_", spy)
        with torch.inference_mode():
            out = simple_rnn(x, kernel, rec, bias, relu=relu, return_sequences=return_sequences)
        monkeypatch.undo()
        assert torch.get_num_threads() == 2  # given back
    finally:
        torch.set_num_threads(before)
    many = rows * 32 >= _simple_rnn_pass._INFERENCE_THREADS_FROM
    assert seen and set(seen) == {2 if many else 1}
    expected = _definition(x, kernel, rec, bias, relu, return_sequences)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
