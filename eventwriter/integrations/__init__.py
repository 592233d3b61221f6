"""Adapters that give frameworks' TensorBoard loggers eventwriter's files, without TensorFlow.

Each adapter is its own module, imported only when used (``import eventwriter`` imports none of
them, this package imports nothing, and no adapter imports TensorFlow, ``tensorboard`` or
tensorboardX):

* :mod:`eventwriter.integrations.keras`: ``TensorBoard``, Keras 3's callback (extra ``keras``).
* :mod:`eventwriter.integrations.clu`: ``MetricWriter``, CLU's ``metric_writers`` interface (extra ``jax``).
* :mod:`eventwriter.integrations.flax`: ``SummaryWriter``, ``flax.metrics.tensorboard``'s (extra ``jax``).
* :mod:`eventwriter.integrations.lightning`: ``TensorBoardLogger``, Lightning's (extra ``lightning``).
* :mod:`eventwriter.integrations.transformers`: ``TensorBoardCallback``, Hugging Face's (extra ``transformers``).
"""
