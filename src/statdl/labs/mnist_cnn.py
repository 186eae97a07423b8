"""Lab ``mnist-cnn``: the course's convolutional network (485,066 parameters).

Conv2D(32) - MaxPool - Conv2D(64) - MaxPool - Conv2D(64) - Flatten - Dense(512) - Dropout(0.4) -
Dense(256) - Dropout(0.2) - Dense(10); RMSprop, 15 epochs, batch 128, 20% validation. Figures:
the first layer's 3x3 filters (Figure 11), its feature maps for one digit (Figure 12) and the
pooled maps (Figure 13). Variants: ``--padding same``, ``--no-pooling`` (the dense layer then
has ~15.8 million parameters) and ``--augment`` (random zoom, shifts, shear and rotation of the
training digits, with a figure of augmented copies as Figure 14).
"""

from __future__ import annotations

import argparse

import statdl as sd
from statdl import layers as L
from statdl.layers.augmentation import plot_augmented

from ._common import Timer, classification_report, mnist_data

COURSE, TARGET = 0.9905, 0.990


def augmentation(seed: int | None = None) -> L.RandomAugmentation:
    """Natural distortions of digits: zoom, shifts, shear, small rotations (no flips)."""
    return L.RandomAugmentation(zoom=0.1, width_shift=0.1, height_shift=0.1, shear=10,
                                rotation=10, seed=seed)


def build(padding: str = "valid", pooling: bool = True, augment: bool = False,
          seed: int | None = None) -> sd.Sequential:
    """The course's CNN, optionally with ``same`` padding, without pooling, or augmented."""
    def pool() -> list:
        return [L.MaxPooling2D((2, 2))] if pooling else []

    layers = [augmentation(seed)] if augment else []
    layers += [L.Conv2D(32, (3, 3), activation="relu", padding=padding), *pool(),
               L.Conv2D(64, (3, 3), activation="relu", padding=padding), *pool(),
               L.Conv2D(64, (3, 3), activation="relu", padding=padding),
               L.Flatten(),
               L.Dense(512, activation="relu"), L.Dropout(0.4),
               L.Dense(256, activation="relu"), L.Dropout(0.2),
               L.Dense(10, activation="softmax")]
    return sd.Sequential(layers, input_shape=(28, 28, 1), name="mnist_convnet")


def run(args: argparse.Namespace, run) -> dict:
    """Train the CNN; caret statistics; filters, feature maps and pooled maps."""
    x_train, y_train, x_test, y_test = mnist_data(args, "image")
    model = build(args.padding, not args.no_pooling, args.augment, args.seed)
    model.summary()
    if args.augment:
        run.figure(plot_augmented(x_test[0], augmentation(args.seed), n=9, ncol=3),
                   "augmented_copies",
                   "Nine randomly distorted copies of the first test digit (data augmentation)")
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"],
                  device=args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, sd.to_categorical(y_train, 10), epochs=args.epochs,
                            batch_size=128, validation_split=0.2, verbose=args.verbose)
    standard = args.padding == "valid" and not args.no_pooling and not args.augment
    results = classification_report(run, model, history, x_test, y_test, timer,
                                    COURSE if standard else None, TARGET if standard else None)
    results.pop("predictions")
    conv = next(i for i, layer in enumerate(model.layers) if isinstance(layer, L.Conv2D))
    run.figure(sd.plot_filters(model, conv), "filters",
               "The filters (kernels) the first convolution layer learned")
    pooled = conv + 1 if not args.no_pooling else None
    run.figure(sd.plot_feature_maps(model, x_test[0], conv, pooled_layer=pooled),
               "feature_maps", "The first test digit's feature maps after the first "
               "convolution" + (" and after its max pooling" if pooled is not None else ""))
    results["params"] = model.count_params()
    run.record(results)
    return results
