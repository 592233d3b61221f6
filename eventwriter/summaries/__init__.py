"""Summary builders: one module per dashboard, each pure (arrays in, ``Summary`` message out).

No module here does I/O or reads a clock; :class:`eventwriter.SummaryWriter` stamps and writes
what they build. ``png``, ``tsv`` and ``float_repr`` are the encoders the builders and the
projector share. A new summary kind is one module here plus one forwarding method in
``eventwriter/writer.py``.
"""
