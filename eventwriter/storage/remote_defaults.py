"""Defaults of the remote backend that the writer needs without importing fsspec."""

DEFAULT_UPLOAD_SECS = 10.0
"""Default ``upload_secs`` of :class:`eventwriter.SummaryWriter` for URL logdirs: TensorBoard
stays about ten seconds behind, and a run leaves at most one segment per 10 s of logging."""
