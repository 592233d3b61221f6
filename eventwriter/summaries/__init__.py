"""Summary builders: one module per dashboard, each pure (arrays in, ``Summary`` message out).

No module here does I/O or reads a clock; :class:`eventwriter.SummaryWriter` stamps and writes
what they build. ``png``, ``tsv`` and ``float_repr`` are the encoders the builders and the
projector share. A new summary kind is one module here plus one forwarding method in
``eventwriter/writer.py``.

Next to the torch-shaped builders, each dashboard's module has the ``tf.summary``-shaped one the
framework adapters (``eventwriter.integrations``) write: ``tf_image_summary``,
``tf_audio_summary``, ``tf_histogram_summary``, ``tf_text_summary``, ``tf_tensor_summary``,
``tf_hparams_summary`` and ``graph.keras_model_summary``. They share the module's encoders and
input rules and have no ``SummaryWriter`` method.
"""
