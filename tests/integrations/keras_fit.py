"""One small Keras fit + evaluate with a TensorBoard callback, for the adapter's tests and benchmark.

``python keras_fit.py --callback ours|keras --log-dir DIR [--update-freq batch] [--record FILE]``

``ours`` is eventwriter.integrations.keras.TensorBoard, ``keras`` is keras.callbacks.TensorBoard
(TensorFlow backend only); the backend comes from KERAS_BACKEND. Data, model and seed are fixed,
so two runs on one backend train identically. ``--record`` saves what Keras itself reported
(History, every batch's logs, evaluate's result, the final weights) as an ``.npz`` for the test
to compare the logdir with.
"""

import argparse
import json
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402


def build_model(embedding: bool = False):
    if embedding:
        inputs = keras.Input((5,), dtype="int32")
        x = keras.layers.Embedding(12, 3, name="tokens")(inputs)
        x = keras.layers.Flatten()(x)
    else:
        inputs = keras.Input((6, 6, 1))
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = keras.layers.Flatten()(x)
        # Frozen at constant weights: a one-value histogram (all edges equal) at every epoch.
        x = keras.layers.Dense(5, trainable=False, kernel_initializer="ones", name="frozen")(x)
    x = keras.layers.Dense(5, activation="relu")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Recorder(keras.callbacks.Callback):
    """Keeps every batch's logs in batch order, and the names of the threads that delivered them.

    ``async_safe``: it does not stop Keras from running batch-end hooks in its thread pool
    (whether Keras does depends on the other callbacks), where they may arrive out of order.
    """

    async_safe = True

    def __init__(self, out):
        super().__init__()
        self.out, self.seen, self.threads, self.epoch = out, [], set(), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        import threading

        self.threads.add(threading.current_thread().name)
        self.seen.append(((self.epoch, batch), dict(logs)))

    def on_train_end(self, logs=None):
        self.out.extend(logs for _, logs in sorted(self.seen, key=lambda item: item[0]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callback", choices=["ours", "keras"], default="ours")
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--update-freq", default="batch")
    parser.add_argument("--record")
    parser.add_argument("--embedding-metadata", help="with this metadata file: an Embedding model, embeddings_freq=1")
    parser.add_argument("--storage-options", help="JSON for the callback's storage_options")
    parser.add_argument("--threaded", action="store_true",
                        help="no steps per second, so Keras may run the batch-end hooks in its thread pool")
    args = parser.parse_args()
    update_freq = int(args.update_freq) if args.update_freq.isdigit() else args.update_freq
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(0)
    embedding = args.embedding_metadata is not None
    if embedding:
        x = rng.integers(0, 12, (48, 5)).astype("int32")
        y = (x.mean(axis=1) > 5.5).astype("float32")
        options = dict(embeddings_freq=1, embeddings_metadata={"tokens": args.embedding_metadata})
    else:
        x = rng.random((48, 6, 6, 1), dtype=np.float32)
        y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
        options = dict(histogram_freq=1, write_images=True, write_steps_per_second=not args.threaded)
    model = build_model(embedding)
    if args.callback == "ours":
        from eventwriter.integrations.keras import TensorBoard

        extra = {"storage_options": json.loads(args.storage_options)} if args.storage_options else {}
        callback = TensorBoard(args.log_dir, update_freq=update_freq, **options, **extra)
    else:
        callback = keras.callbacks.TensorBoard(args.log_dir, update_freq=update_freq, **options)
    batch_logs = []
    recorder = Recorder(batch_logs)
    history = model.fit(x[:36], y[:36], batch_size=8, epochs=3, validation_data=(x[36:], y[36:]),
                        callbacks=[callback, recorder], verbose=0, shuffle=False)
    evaluation = model.evaluate(x, y, batch_size=16, callbacks=[callback], verbose=0, return_dict=True)
    if args.record:
        weights = {w.path: keras.ops.convert_to_numpy(w) for layer in model.layers for w in layer.weights}
        np.savez(args.record, history=json.dumps(history.history), batches=json.dumps(batch_logs),
                 evaluation=json.dumps(evaluation), batch_threads=json.dumps(sorted(recorder.threads)),
                 iterations=int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
                 weight_names=json.dumps(sorted(weights)), **{f"w:{k}": v for k, v in weights.items()})


if __name__ == "__main__":
    main()
