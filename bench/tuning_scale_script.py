"""The training script of bench/tuning_scale.py: the course's MNIST tuning model (mnistnn.R:
two dense layers with dropout, ReduceLROnPlateau with the ``lr_annealing`` factor) on a
sample of the digits shipped with statdl, so that a grid of hundreds of runs fits this machine.

Training digits: the first ``n_train`` of the 6,000-digit sample; validation: its last 2,000
(never trained on). The epochs are reported as they end (fit's run callback), which is what a
tuning run's scheduler judges.
"""

import statdl as sd
from statdl import callbacks as C
from statdl import layers as L

flags = sd.flags(nodes1=256, nodes2=128, dropout1=0.4, dropout2=0.3, optimizer="rmsprop",
                 lr_annealing=0.1, epochs=9, n_train=1000, seed=1001)
sd.set_seed(flags.seed)
(x, y), _ = sd.datasets.mnist_sample()
x = x.reshape(len(x), 784).astype("float32") / 255
y = sd.to_categorical(y, 10)
model = sd.Sequential([
    L.Dense(flags.nodes1, activation="relu"), L.Dropout(flags.dropout1),
    L.Dense(flags.nodes2, activation="relu"), L.Dropout(flags.dropout2),
    L.Dense(10, activation="softmax"),
], input_shape=(784,))
model.compile(loss="categorical_crossentropy", metrics=["accuracy"], optimizer=flags.optimizer)
history = model.fit(x[:flags.n_train], y[:flags.n_train], epochs=flags.epochs, batch_size=128,
                    validation_data=(x[-2000:], y[-2000:]), verbose=0,
                    callbacks=[C.ReduceLROnPlateau(factor=flags.lr_annealing, patience=2)])
sd.report(history)
