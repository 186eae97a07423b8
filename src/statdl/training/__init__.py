"""Training machinery: losses, metrics, optimizers, callbacks, history and the loop."""
