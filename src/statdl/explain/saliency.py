"""Saliency maps (Simonyan, Vedaldi and Zisserman 2014): where in an image a small change
would most change the network's score for a class."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, ShapeError
from ..validation import check_choice, message

__all__ = ["saliency"]


def saliency(model, images, target=None, kind: str = "gradient", score: str = "logit"
             ) -> np.ndarray:
    """One map per image: the gradient of the class score with respect to the pixels.

    Parameters
    ----------
    model : statdl model with one image input
    images : array (n, h, w, c) or (n, h, w)
        In the layout the model takes (Keras's channels last).
    target : int, array of ints or None
        Class per image; None takes the predicted class.
    kind : ``"gradient"`` or ``"gradient_x_input"``
        ``"gradient"``: the largest absolute gradient over channels (Simonyan et al.);
        ``"gradient_x_input"``: gradient times pixel value, summed over channels (signed: where
        the pixel's ink raises or lowers the score, relative to a black image).
    score : ``"logit"`` or ``"probability"``
        Differentiate the class's pre-softmax score (the usual choice; a probability
        saturates) or its probability.

    Returns
    -------
    array (n, h, w)

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> m = sd.Sequential([sd.layers.Flatten(), sd.layers.Dense(3, activation="softmax")],
    ...                   input_shape=(4, 4, 1))
    >>> saliency(m, np.ones((2, 4, 4, 1)), target=1).shape
    (2, 4, 4)
    """
    check_choice(kind, "kind", ("gradient", "gradient_x_input"), "saliency")
    check_choice(score, "score", ("logit", "probability"), "saliency")
    x = np.asarray(images, dtype=np.float32)
    if x.ndim not in (3, 4):
        raise ShapeError(message("images", "shape (n, h, w) or (n, h, w, c)", images,
                                 "saliency", verb="have", shown=str(x.shape)))
    module = model.module
    device = next(iter(module.parameters()), torch.empty(0)).device
    xt = torch.tensor(x, device=device, requires_grad=True)
    was_training = module.training
    module.eval()
    try:
        with torch.enable_grad():
            out = module(xt, logits=score == "logit")
            out = out.reshape(len(x), -1)
            classes = _targets(target, out, len(x))
            picked = out[torch.arange(len(x)), torch.as_tensor(classes, device=device)]
            (grad,) = torch.autograd.grad(picked.sum(), xt)
    finally:
        module.train(was_training)
        for m in module.modules():
            if hasattr(m, "penalties"):
                m.penalties.clear()
    g = grad.detach().cpu().numpy()
    if g.ndim == 3:
        g, x = g[..., None], x[..., None]
    if kind == "gradient":
        return np.abs(g).max(axis=-1)
    return (g * x).sum(axis=-1)


def _targets(target, out: torch.Tensor, n: int) -> np.ndarray:
    k = out.shape[1]
    if target is None:
        if k == 1:
            return np.zeros(n, dtype=np.int64)
        return out.detach().argmax(dim=1).cpu().numpy()
    t = np.broadcast_to(np.asarray(target), (n,)).astype(np.int64)
    if t.min() < 0 or t.max() >= k:
        raise ConfigError(message("target", f"class indices 0..{k - 1}", target, "saliency",
                                  verb="hold"))
    return t
