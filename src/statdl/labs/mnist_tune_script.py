"""The course's tuning script ``mnistnn.R`` in Python: run by ``statdl lab mnist-tune`` (or by
``statdl tune src/statdl/labs/mnist_tune_script.py --flag nodes1=64,128,256 ...``).

Flags: nodes1, nodes2, dropout1, dropout2, optimizer, lr_annealing (the course's), plus epochs
(35) and quick (train on the 6,000-digit sample shipped with statdl).
"""

import statdl as sd
from statdl import callbacks as C
from statdl import layers as L
from statdl.tuning import RunMetricsCallback


def main() -> None:
    flags = sd.flags(nodes1=256, nodes2=128, dropout1=0.4, dropout2=0.3, optimizer="rmsprop",
                     lr_annealing=0.1, epochs=35, quick=False, seed=1001)
    sd.set_seed(flags.seed)
    if flags.quick:
        (x_train, y_train), _ = sd.datasets.mnist_sample()
    else:
        (x_train, y_train), _ = sd.datasets.mnist()
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    model = sd.Sequential([
        L.Dense(flags.nodes1, activation="relu"), L.Dropout(flags.dropout1),
        L.Dense(flags.nodes2, activation="relu"), L.Dropout(flags.dropout2),
        L.Dense(10, activation="softmax"),
    ], input_shape=(784,))
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"],
                  optimizer=flags.optimizer)
    history = model.fit(x_train, sd.to_categorical(y_train, 10), epochs=flags.epochs,
                        batch_size=128, validation_split=0.2, verbose=0,
                        callbacks=[C.EarlyStopping(patience=5),
                                   C.ReduceLROnPlateau(factor=flags.lr_annealing),
                                   RunMetricsCallback()])
    sd.report(history, model=model, save_model=True)


if __name__ == "__main__":
    main()
