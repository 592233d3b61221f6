"""Embedding Projector files: ``add_embedding`` (FORMAT.md §3.5, §4 add_embedding, §5.10, §6 item 14).

The projector reads no events. :func:`write_embedding` writes, for one embedding,
``<logdir>/<step:05d>/<tag>/`` (the tag percent-encoded as torch does: ``%`` -> ``%25``, ``/`` ->
``%2f``, ``\\`` -> ``%5c``) holding

* ``tensors.tsv``: one row per point, the values TAB-separated, each formatted exactly as torch
  formats it (``str(float(v))``, Python's shortest round-trip ``repr``), a ``\\n`` after every row;
* ``metadata.tsv`` (with ``metadata``): one label per line; with several columns a header row
  first (TensorBoard takes line 1 as a header iff it contains a TAB);
* ``sprite.png`` (with ``label_img``): the thumbnails tiled row-major from the top-left;

and merges an ``EmbeddingInfo{tensor_name "<tag>:<step:05d>", tensor_path, metadata_path, sprite}``
into ``<logdir>/projector_config.pbtxt`` (text format, paths relative to the logdir, which is the
config's directory, as TensorBoard requires).

Where this differs from torch (each one a case torch gets wrong):

* The config is **merged**, not rewritten: entries written by other writers or processes stay; an
  entry with the same ``tensor_name`` is replaced. The read-modify-write runs under an exclusive
  ``flock`` on ``<logdir>/.projector_config.pbtxt.lock`` and the new file replaces the old one
  atomically (``os.replace``), so the server never sees half a file.
* Labels: TAB, CR and LF inside a label become spaces, so a row can never split or gain columns.
  A label that is empty or only whitespace would be a blank line, which the projector skips,
  shifting every later label; it is written as :data:`EMPTY_LABEL` instead (for multi-column rows,
  only when every field of the row is blank). Other values are ``str(value)`` as in torch (so
  ``None`` -> ``"None"``, NaN -> ``"nan"``); tensors give their number, not ``"tensor(3)"``.
  A one-column ``metadata_header`` writes no header row (the projector would read it as a label).
* Sprite: the grid is ceil(sqrt(N)) x ceil(sqrt(N)) cells of exactly W x H pixels (torch squares the
  image by padding with width-sized rows, which misplaces every thumbnail when H != W). Thumbnails
  are shrunk (area average, with a warning) so that no side of the sprite exceeds 8192 px, the
  projector's limit. ``uint8`` pixels are used as is (torch multiplies them by 255 as well);
  other dtypes are ``x * 255`` in float64, clipped and truncated, as torch does. 1 channel becomes
  RGB, 4 channels stay RGBA. The PNG is encoded by :func:`eventwriter.image.encode_png`.
* ``bool`` matrices are written as ``1.0``/``0.0`` (torch writes ``True``, which TensorBoard cannot
  parse); a bfloat16 tensor keeps its exact value (torch rounds it to float16 first).
* Bad input raises ``ValueError``/``TypeError`` naming the argument before anything is written.

Speed: ``tensors.tsv`` is formatted by a vectorised numpy implementation of Python's float
``repr`` (the same text, see :func:`_format_values`) instead of one ``str()`` call per value,
in blocks spread over up to 4 threads (numpy releases the GIL), with a table lookup when the
matrix has few distinct values (pixels / 255, one-hot); the sprite PNG is encoded on another
thread meanwhile. ``benchmarks/bench_embedding.py`` compares with torch (10-20x faster for
10,000 x 784 with a sprite).
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import threading
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import protos
from .tensors import to_numpy

CONFIG_NAME = "projector_config.pbtxt"
"""File name of the projector configuration in the logdir (TensorBoard looks for exactly this)."""

LOCK_NAME = ".projector_config.pbtxt.lock"
"""Lock file (in the logdir) serialising config updates across threads and processes."""

EMPTY_LABEL = "<empty>"
"""Written instead of a blank label, which the projector would skip (FORMAT.md §6 item 14)."""

MAX_SPRITE_SIDE = 8192
"""Largest sprite width/height in pixels that the projector accepts."""

_CHUNK = 1 << 15  # values formatted per numpy block (its temporaries fit the CPU caches)
_process_lock = threading.Lock()  # flock does not order threads sharing one open file description


# ---------------------------------------------------------------------------------------------
# public API


def write_embedding(
    logdir: Any,
    mat: Any,
    metadata: Optional[Sequence[Any]] = None,
    label_img: Any = None,
    global_step: Optional[int] = None,
    tag: str = "default",
    metadata_header: Optional[Sequence[Any]] = None,
) -> None:
    """Write one embedding for the Projector and merge it into ``<logdir>/projector_config.pbtxt``.

    Args:
        logdir: the run directory (a local path); the config goes here and every path in it is
            relative to it.
        mat: (N, D) real array-like (numpy, torch tensor on any device, nested lists): one row per point.
        metadata: N labels (one column), or N rows of ``len(metadata_header)`` values.
        label_img: (N, C, H, W) array-like thumbnails, C = 1, 3 or 4; floats in [0, 1] or uint8.
        global_step: integer step (None -> 0); the files go to ``<step:05d>/``.
        tag: embedding name; the config entry is ``"<tag>:<step:05d>"``.
        metadata_header: column names for multi-column ``metadata``.

    Raises:
        TypeError: an argument has the wrong type (non-numeric ``mat``, ``tag`` not a str, ...).
        ValueError: ``mat`` is not 2-D or empty; ``metadata``/``label_img`` do not have N entries;
            ``label_img`` is not 4-D with 1, 3 or 4 channels; a metadata row does not match the
            header; ``tag`` is empty, ``"."`` or ``".."``; the existing config cannot be parsed.
        OSError: the files cannot be written.
    """
    logdir = _check_logdir(logdir)
    step = _check_step(global_step)
    tag = _check_tag(tag)
    values = _check_mat(mat)
    count = values.shape[0]
    metadata_bytes = None
    if metadata is not None:
        metadata_bytes = metadata_tsv(metadata, count, metadata_header)
    elif metadata_header is not None:
        raise ValueError("metadata_header was given without metadata")
    thumbs = None if label_img is None else _check_label_img(label_img, count)
    if thumbs is not None:
        side, (height, width) = _grid_side(count), thumbs.shape[2:]
        new_w, new_h = _fitted_size(side, width, height)
        if (new_w, new_h) != (width, height):
            warnings.warn(
                f"label_img thumbnails shrunk from {width}x{height} to {new_w}x{new_h} px so that the "
                f"{side}x{side} sprite stays within {MAX_SPRITE_SIDE}x{MAX_SPRITE_SIDE} px",
                stacklevel=3,  # the caller of SummaryWriter.add_embedding
            )

    subdir = embedding_subdir(tag, step)
    info = protos.EmbeddingInfo(tensor_name=f"{tag}:{step:05d}", tensor_path=subdir + "/tensors.tsv")
    if metadata_bytes is not None:
        info.metadata_path = subdir + "/metadata.tsv"

    config_path = os.path.join(logdir, CONFIG_NAME)
    _read_config(config_path)  # refuse early (before writing anything) if the config is unreadable
    target = os.path.join(logdir, *subdir.split("/"))
    if os.path.exists(target) and not os.path.isdir(target):
        raise NotADirectoryError(f"cannot write the embedding: {target!r} exists and is not a directory")

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The PNG (zlib releases the GIL) is built while this thread formats tensors.tsv.
        sprite_job = None if thumbs is None else pool.submit(lambda: sprite_png(_sprite_pixels(thumbs)))
        os.makedirs(target, exist_ok=True)
        _write_atomic(os.path.join(target, "tensors.tsv"), tsv_chunks(values))
        if metadata_bytes is not None:
            _write_atomic(os.path.join(target, "metadata.tsv"), [metadata_bytes])
        if sprite_job is not None:
            png, (width, height) = sprite_job.result()
            _write_atomic(os.path.join(target, "sprite.png"), [png])
            info.sprite.image_path = subdir + "/sprite.png"
            info.sprite.single_image_dim.extend([width, height])
    merge_config(logdir, info)


def encode_tag(tag: str) -> str:
    """Percent-encode ``%``, ``/`` and ``\\`` in ``tag`` as torch does for the embedding directory."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def embedding_subdir(tag: str, step: int) -> str:
    """``"<step:05d>/<encoded tag>"``: the embedding's directory relative to the logdir."""
    return f"{step:05d}/{encode_tag(tag)}"


def merge_config(logdir: str, info: "protos.EmbeddingInfo") -> None:
    """Add ``info`` to ``<logdir>/projector_config.pbtxt``, replacing an entry with the same tensor_name.

    The read-modify-write holds an exclusive lock on ``<logdir>/.projector_config.pbtxt.lock``
    (``fcntl.flock``; ``msvcrt.locking`` on Windows), and the new text replaces the file atomically.

    Raises:
        ValueError: the existing file is not a text-format ProjectorConfig.
        OSError: the file cannot be read or written.
    """
    from google.protobuf import text_format

    path = os.path.join(logdir, CONFIG_NAME)
    with _config_lock(os.path.join(logdir, LOCK_NAME)):
        config = _read_config(path)
        for existing in config.embeddings:
            if existing.tensor_name == info.tensor_name:
                existing.CopyFrom(info)
                break
        else:
            config.embeddings.add().CopyFrom(info)
        _write_atomic(path, [text_format.MessageToString(config).encode("utf-8")])


def metadata_tsv(metadata: Any, count: int, metadata_header: Optional[Sequence[Any]] = None) -> bytes:
    """The bytes of ``metadata.tsv`` for ``count`` points (see the module docstring for the rules).

    Raises:
        TypeError: ``metadata`` or ``metadata_header`` is a string or not a sequence.
        ValueError: ``metadata`` does not have ``count`` entries, or a row does not have
            ``len(metadata_header)`` values.
    """
    rows = _as_sequence(metadata, "metadata")
    if len(rows) != count:
        raise ValueError(f"metadata must have one entry per row of mat ({count}), got {len(rows)}")
    header = None if metadata_header is None else [_label_text(h) for h in _as_sequence(metadata_header, "metadata_header")]
    if header is not None and len(header) == 0:
        raise ValueError("metadata_header must name at least one column")
    if header is None or len(header) == 1:
        if header is None:
            labels = [_label_text(v) for v in rows]
        else:
            labels = [_label_text(_row_fields(row, 1, i)[0]) for i, row in enumerate(rows)]
        lines = [label if not _is_blank(label) else EMPTY_LABEL for label in labels]
    else:
        width = len(header)
        lines = ["\t".join(header)]
        for i, row in enumerate(rows):
            fields = [_label_text(v) for v in _row_fields(row, width, i)]
            if all(_is_blank(f) for f in fields):
                fields[0] = EMPTY_LABEL
            lines.append("\t".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


def sprite_png(thumbs: np.ndarray) -> Tuple[bytes, Tuple[int, int]]:
    """Tile ``(N, H, W, C)`` uint8 thumbnails into a sprite PNG; returns ``(png, (width, height))``.

    The grid has ceil(sqrt(N)) columns and as many rows, row-major from the top-left, empty
    cells black; ``(width, height)`` is the size of one cell: the thumbnail's, or smaller (area
    average) if the sprite would exceed 8192 px on a side.
    """
    count, height, width, channels = thumbs.shape
    side = _grid_side(count)
    new_w, new_h = _fitted_size(side, width, height)
    if (new_w, new_h) != (width, height):
        thumbs = _shrink(thumbs, new_h, new_w)
        height, width = new_h, new_w
    cells = np.zeros((side * side, height, width, channels), dtype=np.uint8)
    cells[:count] = thumbs
    grid = cells.reshape(side, side, height, width, channels).transpose(0, 2, 1, 3, 4)
    from .image import encode_png

    return encode_png(grid.reshape(side * height, side * width, channels)), (width, height)


def tsv_chunks(values: np.ndarray) -> Iterator[bytes]:
    """Yield the bytes of ``tensors.tsv`` for a 2-D array, in order, a block of rows at a time.

    Floats are written as Python's ``repr(float(v))``, integers as ``str(int(v))`` (exactly the
    text torch writes), booleans as ``1.0``/``0.0``. Blocks are formatted on up to 4 threads
    (``os.cpu_count()``) and yielded in order.
    """
    rows, cols = values.shape
    if values.dtype.kind in "iu":
        step = max(1, _CHUNK // cols)
        for start in range(0, rows, step):
            block = values[start:start + step].tolist()
            yield "".join("\t".join(map(str, row)) + "\n" for row in block).encode("ascii")
        return
    if values.dtype.kind == "b":
        values = values.astype(np.float64)
    flat = values.reshape(-1)
    narrow = values.dtype.itemsize <= 4  # float32 / float16 / bool: at most 24 significant bits
    table = _LowCardinality.build(flat)
    starts = range(0, flat.size, _CHUNK)
    pattern = np.full(_CHUNK + cols, 9, dtype=np.uint8)  # TAB after a value ...
    pattern[cols - 1::cols] = 10  # ... LF after the last one of a row

    def job(start: int) -> bytes:
        block = np.asarray(flat[start:start + _CHUNK], dtype=np.float64)
        offset = start % cols
        seps = pattern[offset:offset + block.size]
        if table is not None:
            out = table.format(block, seps)
            if out is not None:
                return out
        return _format_values(block, seps, narrow)

    workers = min(4, os.cpu_count() or 1)
    if workers < 2 or len(starts) < 4:
        for start in starts:
            yield job(start)
        return
    # numpy releases the GIL inside its loops: a second thread formats the next blocks.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: List[Any] = []
        for start in starts:
            pending.append(pool.submit(job, start))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_logdir(logdir: Any) -> str:
    if not isinstance(logdir, (str, os.PathLike)):
        raise TypeError(f"logdir must be a path, got {type(logdir).__name__}")
    path = os.fspath(logdir)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if "://" in path:
        # side files need a local directory; never create a folder named "s3:" (USER_NEEDS §6)
        raise ValueError(f"add_embedding needs a local logdir, got {path!r}")
    return path


def _check_step(global_step: Any) -> int:
    if global_step is None:
        return 0
    if isinstance(global_step, (bool, str, bytes)):
        raise TypeError(f"global_step must be an integer, got {global_step!r}")
    try:
        return operator.index(global_step)
    except TypeError:
        pass
    try:
        value = float(global_step)  # numpy floats, 1-element tensors
    except (TypeError, ValueError, RuntimeError):
        value = math.nan
    if math.isfinite(value) and value.is_integer():
        return int(value)
    raise TypeError(f"global_step must be an integer, got {global_step!r}")


def _check_tag(tag: Any) -> str:
    if not isinstance(tag, str):
        raise TypeError(f"tag must be str, got {type(tag).__name__}")
    if tag in ("", ".", ".."):
        raise ValueError(f"tag must name a directory, got {tag!r}")
    return tag


def _check_mat(mat: Any) -> np.ndarray:
    values = to_numpy(mat, "mat")
    if values.dtype.kind not in "biuf":
        raise TypeError(f"mat must hold real numbers, got dtype {values.dtype}")
    if values.ndim != 2:
        raise ValueError(f"mat must be 2-D (N points x D dimensions), got shape {tuple(values.shape)}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"mat must have at least one row and one column, got shape {tuple(values.shape)}")
    if values.dtype.kind == "f" and values.dtype.itemsize > 8:
        values = values.astype(np.float64)
    return values


def _check_label_img(label_img: Any, count: int) -> np.ndarray:
    """``label_img`` as a checked (N, C, H, W) numpy array."""
    images = to_numpy(label_img, "label_img")
    if images.dtype.kind not in "biuf":
        raise TypeError(f"label_img must hold real numbers, got dtype {images.dtype}")
    if images.ndim != 4:
        raise ValueError(f"label_img must be 4-D (N, C, H, W), got shape {tuple(images.shape)}")
    n, channels, height, width = images.shape
    if n != count:
        raise ValueError(f"label_img must have one image per row of mat ({count}), got {n}")
    if channels not in (1, 3, 4):
        raise ValueError(f"label_img must have 1, 3 or 4 channels (N, C, H, W), got C={channels}")
    if height == 0 or width == 0:
        raise ValueError(f"label_img images must not be empty, got shape {tuple(images.shape)}")
    _fitted_size(_grid_side(n), width, height)  # raises now if no thumbnail size can fit
    return images


def _sprite_pixels(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W, 3 or 4) uint8 with torch's sprite pixel rule."""
    n, channels, height, width = images.shape
    hwc = images.transpose(0, 2, 3, 1)
    if images.dtype != np.uint8:
        # torch: np.uint8((float64 canvas * 255).clip(0, 255)); NaN (undefined there) -> 0
        scaled = np.multiply(hwc, 255.0, dtype=np.float64)
        np.fmax(scaled, 0.0, out=scaled)  # fmax also turns NaN into 0
        np.minimum(scaled, 255.0, out=scaled)
        hwc = scaled.astype(np.uint8)
    if channels == 1:
        hwc = np.broadcast_to(hwc, (n, height, width, 3))
    return np.ascontiguousarray(hwc)


def _as_sequence(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of labels, not a single {type(value).__name__}")
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch tensor: labels are its numbers
        value = to_numpy(value, name)
    if isinstance(value, np.ndarray):
        return list(value) if value.ndim else [value[()]]
    if not hasattr(value, "__len__") or not hasattr(value, "__getitem__"):
        try:
            return list(value)
        except TypeError:
            raise TypeError(f"{name} must be a sequence, got {type(value).__name__}") from None
    return value


def _row_fields(row: Any, width: int, index: int) -> Sequence[Any]:
    if width == 1 and (isinstance(row, (str, bytes)) or not hasattr(row, "__len__")):
        return [row]
    if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
        raise ValueError(f"metadata[{index}] must be a sequence of {width} values (one per header column), got {row!r}")
    fields = list(row)
    if len(fields) != width:
        raise ValueError(f"metadata[{index}] must have {width} values (one per header column), got {len(fields)}")
    return fields


def _label_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        if hasattr(value, "detach") and hasattr(value, "numpy"):
            array = to_numpy(value, "metadata")
            value = array[()] if array.ndim == 0 else (array.reshape(-1)[0] if array.size == 1 else array)
        text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


def _is_blank(text: str) -> bool:
    # what the projector's JavaScript ``line.trim()`` empties: whitespace and the BOM
    return not text.replace("\ufeff", "").strip()


# ---------------------------------------------------------------------------------------------
# files, config and locking


def _read_config(path: str) -> "protos.ProjectorConfig":
    config = protos.ProjectorConfig()
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return config
    from google.protobuf import text_format

    try:
        text_format.Parse(text.decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot merge into {path!r}: it is not a text-format ProjectorConfig ({exc})") from exc
    return config


def _write_atomic(path: str, chunks: Any) -> None:
    """Write ``chunks`` (bytes) to a temporary file beside ``path``, then ``os.replace`` it."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp")
    # mode 0o666 minus the umask, like a plain open() (mkstemp would make it private to the owner)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _config_lock(lock_path: str) -> Iterator[None]:
    with _process_lock:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                import fcntl
            except ImportError:  # Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]  # retries 10 s, then OSError
                try:
                    yield
                finally:
                    os.lseek(fd, 0, os.SEEK_SET)
                    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
            else:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------
# sprite helpers


def _grid_side(count: int) -> int:
    side = math.isqrt(count)
    return side if side * side == count else side + 1


def _fitted_size(side: int, width: int, height: int) -> Tuple[int, int]:
    if side * max(width, height) <= MAX_SPRITE_SIDE:
        return width, height
    if side > MAX_SPRITE_SIDE:
        raise ValueError(f"label_img: {side * side} cells cannot fit a {MAX_SPRITE_SIDE} px sprite even at 1 px each")
    scale = min(MAX_SPRITE_SIDE / (side * width), MAX_SPRITE_SIDE / (side * height))
    return max(1, min(width, int(width * scale))), max(1, min(height, int(height * scale)))


def _area_weights(new: int, old: int) -> np.ndarray:
    """(new, old) matrix averaging each output pixel over the input pixels it covers (box filter)."""
    edges = np.arange(new + 1) * (old / new)
    lo, hi = edges[:-1, None], edges[1:, None]
    pix = np.arange(old)[None, :]
    overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0, None)
    return (overlap / (old / new)).astype(np.float32)


def _shrink(thumbs: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    n, height, width, channels = thumbs.shape
    rows = _area_weights(new_h, height)
    cols = _area_weights(new_w, width)
    out = np.empty((n, new_h, new_w, channels), dtype=np.uint8)
    step = max(1, (1 << 24) // (height * width * channels))
    for start in range(0, n, step):
        block = thumbs[start:start + step].astype(np.float32)
        block = np.einsum("ih,nhwc->niwc", rows, block)
        block = np.einsum("jw,niwc->nijc", cols, block)
        out[start:start + step] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# Vectorised repr(float): the exact text of Python's float repr for every value of a float64
# array, computed with numpy (one Python call per value costs ~0.7 us, 6 s for 10,000 x 784).
#
# Python prints the shortest decimal that reads back as the same double (ties between two
# shortest candidates go to the even digit), in fixed notation when the decimal exponent
# ``decpt`` (value = 0.d1d2... * 10**decpt) is in [-3, 16], otherwise as ``d.ddde[+-]XX``.
# For |x| = a, with k chosen so that P = a * 10**k is in [1e16, 1e17):
#   * P is computed as int64 + float remainder with an exact two-product (Dekker) of a and the
#     double-double 10**k, accurate to ~1e-14 of the last digit;
#   * the 17-digit candidate always reads back; a candidate with j fewer digits is the multiple
#     of 10**j nearest to P, and it reads back iff its distance to P is below H, half an ulp of a
#     scaled by 10**k. The shortest candidate is the largest j that passes (the test is
#     monotonic in j): j = 1 and 2 are tested on every value, larger j on those still passing.
# Decisions closer than 1e-9 to a boundary, powers of two (asymmetric interval), zeros, NaN, inf
# and magnitudes outside [1e-250, 1e250] fall back to ``repr`` (once per distinct value).
# tests/test_projector.py compares this with repr on millions of values, random bit patterns included.


def _pow10_tables() -> Tuple[np.ndarray, ...]:
    hi = np.zeros(_K_MAX - _K_MIN + 1)
    lo = np.zeros_like(hi)
    for k in range(_K_MIN, _K_MAX + 1):
        exact = Fraction(10) ** k
        hi[k - _K_MIN] = float(exact)
        lo[k - _K_MIN] = float(exact - Fraction(hi[k - _K_MIN]))
    split = _SPLIT * hi
    big = split - (split - hi)
    above = np.array([float(Fraction(10) ** (e + 1)) for e in range(_E_MIN, _E_MAX + 1)])
    return hi, lo, big, hi - big, above


_K_MIN, _K_MAX = -270, 290  # 10**k needed for |x| in [1e-250, 1e250]
_E_MIN, _E_MAX = -260, 260  # decimal exponents of those magnitudes
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp split of a double into two 26-bit halves
_TABLES: Tuple[np.ndarray, ...] = ()
_TOL = 1e-9
_MANTISSA = np.int64((1 << 52) - 1)
_P10 = np.array([10 ** i for i in range(19)], dtype=np.int64)
_DIGITS4 = np.frombuffer(b"".join(b"%04d" % i for i in range(10000)), dtype=np.uint32)
_DIGITS3 = np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), dtype=np.uint8).reshape(1000, 3)
_COLUMN = np.arange(32, dtype=np.uint8)
_tables_lock = threading.Lock()


def _tables() -> Tuple[np.ndarray, ...]:
    global _TABLES
    if not _TABLES:
        with _tables_lock:
            if not _TABLES:
                pow2 = np.ldexp(1.0, np.arange(-1100, 971))  # 2**(i - 1100)
                _TABLES = _pow10_tables() + (pow2,)
    return _TABLES


def _round_up(q: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (high < low) | ((high == low) & ((q & 1) == 1))


def _shortest(a: np.ndarray, bits: np.ndarray, narrow: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shortest round-trip digits of positive doubles ``a`` (normal, not powers of two).

    ``narrow``: every value has at most 26 significant bits (it came from float32/float16).
    Returns ``(digits, ndigits, decpt, ok)``: the value is ``0.<digits> * 10**decpt`` with
    ``digits`` an int64 of ``ndigits`` digits; ``ok`` is False where the caller must use repr.
    """
    pow_hi, pow_lo, pow_split_hi, pow_split_lo, pow10_above, pow2 = _tables()
    exp2 = ((bits >> 52) & 0x7FF) - 1022  # a = m * 2**exp2, 0.5 <= m < 1
    est = ((exp2 - 1) * 78913) >> 18  # floor((exp2 - 1) * log10(2)), exact for |exp2| < 1650
    e10 = est + (a >= pow10_above[est - _E_MIN])  # floor(log10(a)) but within an ulp of 10**n
    ki = (16 - _K_MIN) - e10  # index of k = 16 - e10
    hi = pow_hi[ki]
    p1 = a * hi
    if narrow:  # a fits in 26 bits: it is its own high half
        rest = ((a * pow_split_hi[ki] - p1) + a * pow_split_lo[ki]) + a * pow_lo[ki]
    else:
        split = _SPLIT * a
        a_hi = split - (split - a)
        a_lo = a - a_hi
        b_hi = pow_split_hi[ki]
        b_lo = pow_split_lo[ki]
        rest = (((a_hi * b_hi - p1) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo) + a * pow_lo[ki]
    whole = np.rint(rest)
    top = p1.astype(np.int64) + whole.astype(np.int64)  # P = top + frac
    frac = rest - whole  # |frac| <= 0.5
    radius = hi * pow2[exp2 + (1100 - 54)]  # half an ulp of a, times 10**k
    ok = (p1 >= 1e16) & (p1 < 1e17) & (top < 10**17)  # misses only right at a power of ten
    # 16 and 15 digits: nearest multiples of 10 and 100
    q1 = top // 10
    q2 = q1 // 10
    r1 = (top - q1 * 10).astype(np.float64)
    r2 = (top - q2 * 100).astype(np.float64)
    low1 = np.abs(r1 + frac)
    high1 = np.abs((10.0 - r1) - frac)
    low2 = np.abs(r2 + frac)
    high2 = np.abs((100.0 - r2) - frac)
    dist1 = np.minimum(low1, high1)
    dist2 = np.minimum(low2, high2)
    in1 = dist1 < radius
    in2 = dist2 < radius
    unsure = (np.abs(dist1 - radius) <= _TOL) | (in1 & (np.abs(dist2 - radius) <= _TOL))
    # both neighbours at distance 5 (low1 + high1 = 10): an exact tie goes to the even one, a
    # near tie is unsure; it only matters when 5 is inside the radius
    unsure |= (np.abs(dist1 - 5.0) <= _TOL) & (low1 != high1) & (radius > 5.0 - _TOL)
    # the same for the 17-digit candidate (radius > 0.55 there, so it is always inside)
    abs_frac = np.abs(frac)
    tie17 = abs_frac == 0.5
    unsure |= ~in1 & (np.abs(abs_frac - 0.5) <= _TOL) & ~tie17
    ok &= ~unsure
    top17 = top
    odd_tie = tie17 & ((top & 1) == 1)
    if odd_tie.any():
        top17 = top + odd_tie * (2 * (frac > 0) - 1)
    up1 = high1 < low1
    tie1 = high1 == low1  # both at distance 5: Python picks the even one
    if tie1.any():
        up1 |= tie1 & ((q1 & 1) == 1)
    # at 100 a tie (distance 50) is never inside the interval, so only j = 1 needs the even rule.
    # (Selections are arithmetic: np.where is slow on unpredictable masks; in2 implies in1.)
    d16 = q1 + up1
    digits = top17 + in1 * (d16 - top17) + in2 * ((q2 + (high2 < low2)) - d16)
    ndigits = 17 - in1.astype(np.int64) - in2
    active = np.flatnonzero(in2 & ok)
    for j in range(3, 17):  # rare: 14 digits or fewer
        if active.size == 0:
            break
        p = int(_P10[j])
        t, f, r = top[active], frac[active], radius[active]
        qj = t // p
        rem = t - qj * p
        low = np.abs(rem.astype(np.float64) + f)
        high = np.abs((p - rem).astype(np.float64) - f)
        dist = np.minimum(low, high)
        inside = dist < r
        unsure = np.abs(dist - r) <= _TOL
        if unsure.any():
            ok[active[unsure]] = False
            inside &= ~unsure
        active = active[inside]
        digits[active] = qj[inside] + _round_up(qj[inside], low[inside], high[inside])
        ndigits[active] = 17 - j
    decpt = e10 + 1
    carry = digits == _P10[ndigits]  # 9.99...5 rounded up to a power of ten
    if carry.any():
        digits[carry] = 1
        ndigits[carry] = 1
        decpt[carry] += 1
    return digits, ndigits, decpt, ok


def _ascii20(high: np.ndarray, low: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` ASCII digits of ``high * 10**10 + low`` written with 20 digits."""
    m = high.size
    n4 = (width + 3) // 4
    out = np.empty((m, n4), dtype=np.uint32)
    h6 = high // 1000000
    out[:, 0] = _DIGITS4[h6]
    if n4 > 1:
        rest = high - h6 * 1000000
        h2 = rest // 100
        out[:, 1] = _DIGITS4[h2]
        if n4 > 2:
            l8 = low // 100000000
            out[:, 2] = _DIGITS4[(rest - h2 * 100) * 100 + l8]
            if n4 > 3:
                rest = low - l8 * 100000000
                l4 = rest // 10000
                out[:, 3] = _DIGITS4[l4]
                if n4 > 4:
                    out[:, 4] = _DIGITS4[rest - l4 * 10000]
    return out.view(np.uint8).reshape(m, 4 * n4)[:, :width]


def _format_values(x: np.ndarray, seps: np.ndarray, narrow: bool = False) -> bytes:
    """``b"".join(repr(float(v)).encode() + sep)`` for float64 ``x`` and uint8 separators ``seps``.

    ``narrow``: the values came from float32 or float16 (a faster exact product).
    """
    n = x.size
    bits = x.view(np.int64)
    a = np.abs(x)
    fast = (a >= 1e-250) & (a <= 1e250) & ((bits & _MANTISSA) != 0)
    zero = a == 0.0
    any_zero = bool(zero.any())
    if any_zero:  # common (ReLU features): "0.0" is d.0 with d = 0; compute a stand-in, then patch
        fast |= zero
        a = a + zero * _STAND_IN  # a is 0.0 there
    if fast.all():
        fast_idx = None
        digits, nd, decpt, ok = _shortest(a, a.view(np.int64), narrow)
        if any_zero:
            _patch_zeros(zero, digits, nd, decpt, ok)
        if not ok.all():
            fast = ok
            fast_idx = np.flatnonzero(ok)
    else:
        fast_idx = np.flatnonzero(fast)
        af = a[fast_idx]
        digits, nd, decpt, ok = _shortest(af, af.view(np.int64), narrow)
        if any_zero:
            _patch_zeros(zero[fast_idx], digits, nd, decpt, ok)
        if not ok.all():
            fast_idx = fast_idx[ok]
            fast = np.zeros(n, dtype=bool)
            fast[fast_idx] = True
    if not ok.all():
        digits, nd, decpt = digits[ok], nd[ok], decpt[ok]
    negative = (bits < 0) if fast_idx is None else (bits[fast_idx] < 0)
    # Each value becomes a row of the block's field widths, with NUL bytes in the unused places;
    # dropping the NULs leaves the text.
    sci = (decpt <= -4) | (decpt > 16)
    any_sci = bool(sci.any())
    minimum = 26 if fast_idx is not None else 0  # room for a repr() fallback
    if bool(((decpt <= 1) | sci).all()):
        rows = _rows_one_int_digit(negative, digits, nd, decpt, sci, any_sci, minimum)
    else:
        rows = _rows_general(negative, digits, nd, decpt, sci, any_sci, minimum)
    width = rows.shape[1]
    if fast_idx is not None:
        full = np.zeros((n, width), dtype=np.uint8)
        full[fast_idx] = rows
        slow = np.flatnonzero(~fast)
        uniq, inverse = np.unique(bits[slow], return_inverse=True)
        full[slow] = _repr_table(uniq.view(np.float64), width)[inverse]
        rows = full
    rows[:, width - 1] = seps
    return rows.tobytes().translate(None, b"\0")


_STAND_IN = 1.2345678901234567  # needs all 17 digits: leaves _shortest's loop at once


def _patch_zeros(zero: np.ndarray, digits: np.ndarray, nd: np.ndarray, decpt: np.ndarray, ok: np.ndarray) -> None:
    # "0.0": the digit 0 before the point (arithmetic, not masked stores, for speed)
    digits -= zero * digits
    nd -= zero * (nd - 1)
    decpt -= zero * (decpt - 1)
    ok |= zero


def _exponent_field(rows: np.ndarray, column: int, sci: np.ndarray, decpt: np.ndarray) -> None:
    idx = np.flatnonzero(sci)
    e = decpt[idx] - 1
    block = np.empty((idx.size, 5), dtype=np.uint8)
    block[:, 0] = 101  # "e"
    block[:, 1] = np.where(e < 0, 45, 43)  # "-" / "+"
    mag = np.minimum(np.abs(e), 999)
    block[:, 2:] = _DIGITS3[mag]
    block[:, 2] *= mag >= 100  # two exponent digits unless it needs three
    rows[idx, column:column + 5] = block


_KEEP8 = np.array([[0xFF] * f + [0] * (8 - f) for f in range(9)], dtype=np.uint8).view("<u8").reshape(9).astype(np.uint64)


def _rows_one_int_digit(negative, digits, nd, decpt, sci, any_sci, minimum) -> np.ndarray:
    """Layout when every value is 0.[000]ddd, d.ddd or d.ddde+XX (|x| < 10, the usual case).

    Row: [-][d or 0][.][0 0 0][first digit of 0.ddd][the other digits][e+XXX][sep]; no value
    needs a shifted copy of its digits, so every step is a whole-column operation.
    """
    m = digits.size
    lead0 = decpt <= 0
    if any_sci:
        lead0 &= ~sci
    zeros = int(-(lead0 * decpt).min(initial=0))
    left = digits * _P10[17 - nd]  # 17 digits, zero-padded on the right
    first = left // 10**16
    rest = left - first * 10**16
    high = rest // 10**8
    low = rest - high * 10**8
    quads = np.empty((m, 4), dtype=np.uint32)
    hq = high // 10000
    quads[:, 0] = _DIGITS4[hq]
    quads[:, 1] = _DIGITS4[high - hq * 10000]
    lq = low // 10000
    quads[:, 2] = _DIGITS4[lq]
    quads[:, 3] = _DIGITS4[low - lq * 10000]
    after = nd - 1  # digits after the first one; "d.0" keeps one "0"
    after += (nd == 1) & ~lead0 & ~sci if any_sci else (nd == 1) & ~lead0
    halves = quads.view(np.uint64)  # bytes 0-7 and 8-15 of the 16 digits (little-endian)
    halves[:, 0] &= _KEEP8[np.minimum(after, 8)]
    halves[:, 1] &= _KEEP8[np.maximum(after - 8, 0)]
    width = max(minimum, 1 + 1 + 1 + zeros + 1 + 16 + (5 if any_sci else 0) + 1)
    rows = np.zeros((m, width), dtype=np.uint8)  # calloc: cheaper than clearing the tail columns
    rows[:, 0] = negative * np.uint8(45)  # "-"
    first8 = first.astype(np.uint8) + np.uint8(48)
    rows[:, 1] = first8 - lead0 * first.astype(np.uint8)  # "0" for 0.ddd
    rows[:, 2] = 46 if not any_sci else ~(sci & (nd == 1)) * np.uint8(46)
    for z in range(zeros):
        rows[:, 3 + z] = (lead0 & (decpt <= z - zeros)) * np.uint8(48)
    c = 3 + zeros
    rows[:, c] = lead0 * first8
    rows[:, c + 1:c + 17] = quads.view(np.uint8)
    c += 17
    if any_sci:
        _exponent_field(rows, c, sci, decpt)
    return rows


def _divmod_pow10(v: np.ndarray, s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``divmod(v, 10**s)`` for int64 ``v`` in [0, 2**62) and per-element ``s`` in [0, 18]."""
    q = np.floor(v.astype(np.float64) / _P10F[s]).astype(np.int64)  # off by at most one
    p = _P10[s]
    r = v - q * p
    below = r < 0
    q -= below
    r += p * below
    above = r >= p
    q += above
    r -= p * above
    return q, r


_P10F = _P10.astype(np.float64)


def _rows_general(negative, digits, nd, decpt, sci, any_sci, minimum) -> np.ndarray:
    """Layout for any value: [-][integer part, right-aligned][.][fraction, left-aligned][e+XXX][sep]."""
    m = digits.size
    after = nd - decpt  # digits after the decimal point (fixed notation)
    if any_sci:
        after = np.where(sci, nd - 1, after)
    lead0 = decpt <= 0  # 0.000ddd
    if any_sci:
        lead0 &= ~sci
    q, r = _divmod_pow10(digits, np.clip(after, 0, 16))
    int_part = np.where(lead0, 0, q)
    frac_part = np.where(lead0, digits, r)
    whole_number = after < 0
    if whole_number.any():  # written as ddd000.0
        int_part = np.where(whole_number, digits * _P10[np.clip(-after, 0, 18)], int_part)
    frac_len = np.maximum(after, 1)
    int_len = np.maximum(decpt, 1)
    if any_sci:
        frac_len = np.where(sci, after, frac_len)
        int_len = np.where(sci, 1, int_len)
    wi = int(int_len.max()) if m else 1
    wf = int(frac_len.max()) if m else 1
    # fraction digits left-aligned in 20 places: frac_part * 10**(20 - frac_len) = high * 1e10 + low
    t = np.clip(frac_len - 10, 0, 10)
    high, low = _divmod_pow10(frac_part, t)
    high *= _P10[np.clip(10 - frac_len, 0, 10)]
    low *= _P10[10 - t]
    width = max(minimum, wi + wf + (8 if any_sci else 3))
    rows = np.empty((m, width), dtype=np.uint8)
    rows[:, 0] = negative * np.uint8(45)  # "-"
    if wi <= 4:
        int_digits = _DIGITS4[int_part].view(np.uint8).reshape(m, 4)[:, 4 - wi:]
    else:
        ih = int_part // 10**10
        int_digits = _ascii20(ih, int_part - ih * 10**10, 20)[:, 20 - wi:]
    rows[:, 1:1 + wi] = int_digits * (_COLUMN[:wi] >= (wi - int_len.astype(np.uint8))[:, None])
    rows[:, 1 + wi] = (frac_len > 0) * np.uint8(46) if any_sci else 46  # "."
    rows[:, 2 + wi:2 + wi + wf] = _ascii20(high, low, wf) * (_COLUMN[:wf] < frac_len.astype(np.uint8)[:, None])
    c = 2 + wi + wf
    rows[:, c:] = 0
    if any_sci:
        _exponent_field(rows, c, sci, decpt)
    return rows


def _repr_table(values: np.ndarray, width: int) -> np.ndarray:
    table = np.zeros((values.size, width), dtype=np.uint8)
    for i, v in enumerate(values.tolist()):
        text = repr(v).encode("ascii")
        table[i, :len(text)] = np.frombuffer(text, dtype=np.uint8)
    return table


class _LowCardinality:
    """Few distinct values (pixels / 255, one-hot, quantised): format each distinct value once.

    Values are looked up by a multiplicative hash of their bits, chosen collision-free for the
    distinct values of a sample; a block holding any other value is formatted the general way.
    """

    MAX_DISTINCT = 1024
    SAMPLE = 1 << 15

    def __init__(self, keys: np.ndarray, rows: np.ndarray, multiplier: np.uint64, shift: np.uint64, slots: np.ndarray) -> None:
        self.keys = keys
        self.rows = rows
        self.multiplier = multiplier
        self.shift = shift
        self.slots = slots

    @classmethod
    def build(cls, flat: np.ndarray) -> Optional["_LowCardinality"]:
        if flat.size < 4 * cls.SAMPLE:
            return None
        stride = flat.size // cls.SAMPLE
        sample = np.asarray(flat[::stride], dtype=np.float64)
        keys = np.unique(sample.view(np.int64))
        if keys.size > cls.MAX_DISTINCT:
            return None
        bits = max(12, 2 * int(keys.size).bit_length() + 1)  # ~2 n**2 slots: a random hash is injective w.p. ~0.6
        shift = np.uint64(64 - bits)
        rng = np.random.default_rng(0x5EED)
        for _ in range(32):
            multiplier = np.uint64(rng.integers(1, 2**63, dtype=np.int64)) * np.uint64(2) + np.uint64(1)
            hashed = (keys.view(np.uint64) * multiplier) >> shift
            if np.unique(hashed).size == keys.size:
                break
        else:
            return None
        slots = np.zeros(1 << bits, dtype=np.int16)
        slots[hashed.astype(np.intp)] = np.arange(keys.size, dtype=np.int16)
        values = keys.view(np.float64)
        width = max(len(repr(v)) for v in values.tolist()) + 1  # the text, then the separator
        return cls(keys, _repr_table(values, width), multiplier, shift, slots)

    def format(self, x: np.ndarray, seps: np.ndarray) -> Optional[bytes]:
        bits = x.view(np.uint64)
        idx = self.slots[((bits * self.multiplier) >> self.shift).astype(np.intp)]
        if not np.array_equal(self.keys[idx], x.view(np.int64)):
            return None  # a value outside the sampled set: format the block the general way
        rows = self.rows[idx]
        rows[:, -1] = seps
        return rows.tobytes().translate(None, b"\0")
