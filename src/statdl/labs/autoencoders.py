"""Moved to :mod:`statdl.labs.mnist_autoencoders` (the old name read as the package
``statdl.autoencoders``); this name keeps ``statdl.labs.autoencoders`` imports working."""

from .mnist_autoencoders import *  # noqa: F403
from .mnist_autoencoders import course_autoencoder  # noqa: F401 - the name tests and benches use
