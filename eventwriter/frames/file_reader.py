"""Read one event file in bounded windows, so memory follows the window, not the file.

Decoding a window costs several times its size in temporary arrays (offsets, payload columns,
decoded fields), so a file is read and decoded a window at a time and only the decoded rows are
kept. A record cut by the window's end is carried over to the next window; a record longer than
the window is read whole by growing the window until it fits. Each window's rows are appended
to the file's (:class:`~.filepass.ChunkBuilder`) and its arrays freed, so the result is the
:class:`~.filepass.FileChunk` a read in one piece would give.
"""

from __future__ import annotations

from typing import Optional, Union

from .filepass import ChunkBuilder, FileChunk, read_chunk
from .options import ReadOptions, as_options
from .source import open_at

WINDOW_BYTES = 1 << 20


def read_file(path: str, start: int, options: Union[ReadOptions, str], window: Optional[int] = None) -> FileChunk:
    """Decode the rows of ``path`` that ``options`` asks for, from byte ``start`` to its current end, a window at a time.

    ``options`` may be a kind name (its default options). ``window`` is the read size in bytes
    (default :data:`WINDOW_BYTES`).
    """
    options = as_options(options)
    window = WINDOW_BYTES if window is None else window
    if window < 1:
        raise ValueError(f"window must be a positive number of bytes, got {window!r}")
    joined = ChunkBuilder()
    version: Optional[float] = None
    offset, data, want = start, b"", window
    with open_at(path, start, options.storage_options) as stream:
        while True:
            block = stream.read(want)
            if not block:
                # The end: decode what is left (nothing, or a record cut short) so that the last
                # chunk says how the file ends.
                joined.add(read_chunk(path, data, offset, options, version))
                break
            data = data + block if data else block
            chunk = read_chunk(path, data, offset, options, version)
            if chunk.damage is not None:
                joined.add(chunk)
                break
            used = chunk.end - offset
            if used == 0:
                want = max(window, len(data))  # a record longer than the window: read on until it is whole
                continue
            joined.add(chunk)
            if chunk.file_versions:
                version = chunk.file_versions[-1][1]
            data, offset, want = data[used:], chunk.end, window
    return joined.finish()
