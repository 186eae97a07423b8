"""Lab ``transfer``: weight freezing (course, end of "Convolutional Neural Networks").

The course's CNN is trained on MNIST digits; its convolutional layers are then frozen and only
its dense head is trained on a small Fashion-MNIST subset (``--train-size``, default 1,000
images). The same network trained from scratch on that subset is the comparison, on the same
10,000 Fashion-MNIST test images (McNemar's test and the accuracy difference with its CI).
The pretrained ImageNet path (ResNet50 / VGG16) needs torchvision and locally cached weights; it
is detected and skipped with a message when they are absent.
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl import layers as L

from ._common import Timer, fashion_data, mnist_data, with_interval
from .mnist_cnn import build


def imagenet_available() -> str | None:
    """Why the ImageNet path cannot run here (``None`` when torchvision and weights are present)."""
    try:
        import torch
        import torchvision  # noqa: F401
    except ImportError:
        return "torchvision is not installed"
    from pathlib import Path

    hub = Path(torch.hub.get_dir()) / "checkpoints"
    found = [p for p in hub.glob("*.pth") if p.name.startswith(("resnet50", "vgg16"))]
    return None if found else f"no ResNet50/VGG16 weights in {hub}"


def _fit(args, model, x, y, timer, epochs):
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"],
                  device=args.device)
    with timer:
        return model.fit(x, sd.to_categorical(y, 10), epochs=epochs, batch_size=128,
                         validation_split=0.2, verbose=args.verbose)


def run(args: argparse.Namespace, run) -> dict:
    """Pretrain on MNIST, freeze the convolutions, fine-tune on few Fashion-MNIST images."""
    why = imagenet_available()
    print("ImageNet (ResNet50/VGG16) path: " + ("available" if why is None else
                                                f"skipped ({why})."))
    x_mnist, y_mnist, _, _ = mnist_data(args, "image")
    x_tr, y_tr, x_te, y_te = fashion_data(args)
    rng = np.random.default_rng(args.seed)
    keep = rng.choice(len(x_tr), args.train_size, replace=False)
    x_small, y_small = x_tr[keep], y_tr[keep]
    if args.quick:
        x_te, y_te = x_te[:2000], y_te[:2000]
    print(f"Fashion-MNIST: {len(x_small)} training images, {len(x_te)} test images.")
    timer = Timer()

    print("\n=== 1. the CNN trained on MNIST digits ===")
    pretrained = build(seed=args.seed)
    _fit(args, pretrained, x_mnist, y_mnist, timer, args.epochs)
    flatten = next(i for i, layer in enumerate(pretrained.layers)
                   if isinstance(layer, L.Flatten))
    pretrained.freeze(up_to=flatten)
    print("\n=== 2. convolutions frozen, dense head fine-tuned on Fashion-MNIST ===")
    pretrained.summary()
    history_ft = _fit(args, pretrained, x_small, y_small, timer, max(args.epochs, 5))

    print("\n=== 3. the same network from scratch on the Fashion-MNIST subset ===")
    scratch = build(seed=args.seed)
    history_sc = _fit(args, scratch, x_small, y_small, timer, max(args.epochs, 5))

    pred_ft, pred_sc = pretrained.predict_classes(x_te), scratch.predict_classes(x_te)
    cm_ft, cm_sc = sd.confusion_matrix(pred_ft, y_te), sd.confusion_matrix(pred_sc, y_te)
    print(f"\nFine-tuned (frozen convolutions): {cm_ft.overall.to_string()}")
    print(f"\nFrom scratch: {cm_sc.overall.to_string()}")
    cmp = sd.compare_classifiers(pred_ft, pred_sc, y_te, names=("fine-tuned", "scratch"))
    print(f"\n{cmp}")
    run.figure(sd.plot_history(history_ft), "history_fine_tuned", "Fine-tuning the dense head "
               "(convolutions frozen) on Fashion-MNIST: loss and accuracy per epoch")
    run.figure(sd.plot_history(history_sc), "history_scratch", "The same network trained from "
               "scratch on the Fashion-MNIST subset: loss and accuracy per epoch")
    results = {
        "headline": {"name": "accuracy (fine-tuned)", "value": cm_ft.accuracy,
                     "lower": float(cm_ft.overall["AccuracyLower"]),
                     "upper": float(cm_ft.overall["AccuracyUpper"])},
        "scratch_accuracy": cm_sc.accuracy, "difference": cmp.difference,
        "difference_ci": [cmp.lower, cmp.upper], "mcnemar_p": cmp.p_value,
        "imagenet": why or "available", "fit_seconds": timer.seconds,
    }
    run.record(results, history=history_ft, model=pretrained,
               evaluation={**with_interval("accuracy_fine_tuned", cm_ft.accuracy,
                                           cm_ft.overall["AccuracyLower"],
                                           cm_ft.overall["AccuracyUpper"]),
                           **with_interval("accuracy_scratch", cm_sc.accuracy,
                                           cm_sc.overall["AccuracyLower"],
                                           cm_sc.overall["AccuracyUpper"]),
                           **with_interval("difference", cmp.difference, cmp.lower,
                                           cmp.upper)})
    return results
