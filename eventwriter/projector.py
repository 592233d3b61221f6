"""Embedding Projector files: ``add_embedding`` (docs/FORMAT.md §3.5, §4 add_embedding, §5.10, §6 item 14).

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
  atomically (``os.replace``), so the server never sees half a file. The lock file is opened
  without following symlinks and with mode 0666 minus the umask; the wait for it is bounded
  (``lock_timeout``, :data:`LOCK_TIMEOUT_SECS` by default), then ``TimeoutError`` names it.
* Re-logging the same tag and step writes ``tensors.<8 hex>.tsv`` (and ``metadata``/``sprite``
  alike) instead of overwriting torch's ``tensors.tsv`` in place, and switches the config entry
  to them in the same atomic update: a kill at any moment leaves a matching set. The superseded
  files are removed afterwards.
* Labels: TAB, CR and LF inside a label become spaces, so a row can never split or gain columns.
  A label that is empty or only whitespace would be a blank line, which the projector skips,
  shifting every later label; it is written as :data:`EMPTY_LABEL` instead (for multi-column rows,
  only when every field of the row is blank). Other values are ``str(value)`` as in torch (so
  ``None`` -> ``"None"``, NaN -> ``"nan"``); tensors give their number, not ``"tensor(3)"``.
  A one-column ``metadata_header`` writes no header row (the projector would read it as a label).
* Sprite: the grid is ceil(sqrt(N)) x ceil(sqrt(N)) cells of exactly W x H pixels (torch squares the
  image by padding with width-sized rows, which misplaces every thumbnail when H != W). Thumbnails
  are shrunk one by one (Pillow's box filter, an area average; with a warning) so that no side of
  the sprite exceeds 8192 px, the projector's limit. ``uint8`` pixels are used as is (torch
  multiplies them by 255 as well); other dtypes are ``x * 255`` in float64, clipped and truncated, as torch does. 1 channel gives
  a grayscale PNG (torch repeats it to RGB: the same picture, three times the bytes to compress),
  4 channels stay RGBA. The PNG is encoded by :func:`eventwriter.summaries.png.encode_png`.
* ``bool`` matrices are written as ``1.0``/``0.0`` (torch writes ``True``, which TensorBoard cannot
  parse); a bfloat16 tensor keeps its exact value (torch rounds it to float16 first).
* Bad input raises ``ValueError``/``TypeError`` naming the argument before anything is written.

Speed: ``tensors.tsv`` is formatted by a vectorised numpy implementation of Python's float
``repr`` (the same text, see :mod:`eventwriter.summaries.float_repr`) instead of one ``str()`` call per
value, in blocks spread over threads by :mod:`eventwriter.summaries.tsv`, with a table lookup when the
matrix has few distinct values (pixels / 255, one-hot); the sprite PNG is encoded on another
thread meanwhile. ``benchmarks/bench_embedding.py`` compares with torch on four kinds of
10,000 x 784 features with a sprite (README: measured figures).
"""

from __future__ import annotations

import math
import os
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

import numpy as np

from . import protos
from .summaries.png import encode_png
from .stamps import event_step, truncation_warning
from .stamps import check_tag
from .arrays import real_array, to_numpy
from .summaries.tsv import tsv_chunks

if TYPE_CHECKING:
    from .storage import Storage

CONFIG_NAME = "projector_config.pbtxt"
"""File name of the projector configuration in the logdir (TensorBoard looks for exactly this)."""

LOCK_NAME = ".projector_config.pbtxt.lock"
"""Lock file (in a local logdir) serialising config updates across threads and processes."""

LOCK_TIMEOUT_SECS = 30.0
"""How long ``add_embedding`` waits for another writer's config update by default."""

EMPTY_LABEL = "<empty>"
"""Written instead of a blank label, which the projector would skip (docs/FORMAT.md §6 item 14)."""

MAX_SPRITE_SIDE = 8192
"""Largest sprite width/height in pixels that the projector accepts."""



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
    *,
    storage: Optional["Storage"] = None,
    lock_timeout: float = LOCK_TIMEOUT_SECS,
) -> None:
    """Write one embedding for the Projector and merge it into ``<logdir>/projector_config.pbtxt``.

    Args:
        logdir: the run directory (a local path or a store URL); the config goes here and every
            path in it is relative to it.
        mat: (N, D) real array-like (numpy, torch tensor on any device, nested lists): one row per point.
        metadata: N labels (one column), or N rows of ``len(metadata_header)`` values.
        label_img: (N, C, H, W) array-like thumbnails, C = 1, 3 or 4; floats in [0, 1] or uint8.
        global_step: the step (None -> 0; a float is truncated with a warning, as for events);
            the files go to ``<step:05d>/``.
        tag: embedding name; the config entry is ``"<tag>:<step:05d>"``.
        metadata_header: column names for multi-column ``metadata``.
        storage: the backend (:mod:`eventwriter.storage`); default: the one for ``logdir``.
        lock_timeout: seconds to wait for another writer's config update before giving up.

    Raises:
        TimeoutError: another process held the config lock for longer than ``lock_timeout``.
        TypeError: an argument has the wrong type (non-numeric ``mat``, ``tag`` not a str, ...).
        ValueError: ``mat`` is not 2-D or empty; ``metadata``/``label_img`` do not have N entries;
            ``label_img`` is not 4-D with 1, 3 or 4 channels; a metadata row does not match the
            header; ``tag`` is empty, ``"."`` or ``".."``; the existing config cannot be parsed.
        OSError: the files cannot be written.
    """
    logdir = _check_logdir(logdir)
    step = event_step(global_step, truncation_warning) or 0
    tag = _check_directory_tag(tag)
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

    if storage is None:
        from .storage import storage_for

        storage = storage_for(logdir)
    subdir = embedding_subdir(tag, step)
    config_path = storage.join(logdir, CONFIG_NAME)
    _parse_config(storage.read_bytes(config_path), config_path)  # refuse early if the config is unreadable
    target = storage.join(logdir, *subdir.split("/"))
    if storage.kind(target) not in ("dir", "missing"):
        raise NotADirectoryError(f"cannot write the embedding: {target!r} exists and is not a directory")
    # Re-logging the same tag and step: write fresh, uniquely named files and switch the config
    # entry to them in one atomic update, so that a kill at any moment leaves the projector a
    # matching tensors/metadata/sprite set (the old one, or the new one), never a mix.
    suffix = "" if storage.kind(storage.join(target, "tensors.tsv")) == "missing" else "." + uuid.uuid4().hex[:8]
    info = protos.EmbeddingInfo(tensor_name=f"{tag}:{step:05d}", tensor_path=f"{subdir}/tensors{suffix}.tsv")
    if metadata_bytes is not None:
        info.metadata_path = f"{subdir}/metadata{suffix}.tsv"

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The PNG (zlib releases the GIL) is built while this thread formats tensors.tsv.
        sprite_job = None if thumbs is None else pool.submit(lambda: sprite_png(_sprite_pixels(thumbs)))
        storage.makedirs(target)
        storage.write_atomic(storage.join(target, f"tensors{suffix}.tsv"), tsv_chunks(values))
        if metadata_bytes is not None:
            storage.write_atomic(storage.join(target, f"metadata{suffix}.tsv"), [metadata_bytes])
        if sprite_job is not None:
            png, (width, height) = sprite_job.result()
            storage.write_atomic(storage.join(target, f"sprite{suffix}.png"), [png])
            info.sprite.image_path = f"{subdir}/sprite{suffix}.png"
            info.sprite.single_image_dim.extend([width, height])
    ours = {info.tensor_path, info.metadata_path, info.sprite.image_path}
    try:
        replaced = merge_config(logdir, info, storage=storage, lock_timeout=lock_timeout)
    except BaseException:
        if suffix:  # a re-log that never reached the config: its fresh files are nobody's
            for mine in filter(None, ours):
                storage.remove(storage.join(logdir, *mine.split("/")))
        raise
    if replaced is not None:  # the superseded files of this tag and step, now unreferenced
        for old in (replaced.tensor_path, replaced.metadata_path, replaced.sprite.image_path):
            if old and old not in ours and old.startswith(subdir + "/"):
                storage.remove(storage.join(logdir, *old.split("/")))


def encode_tag(tag: str) -> str:
    """Percent-encode ``%``, ``/`` and ``\\`` in ``tag`` as torch does for the embedding directory."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def embedding_subdir(tag: str, step: int) -> str:
    """``"<step:05d>/<encoded tag>"``: the embedding's directory relative to the logdir."""
    return f"{step:05d}/{encode_tag(tag)}"


def merge_config(
    logdir: str,
    info: "protos.EmbeddingInfo",
    *,
    storage: Optional["Storage"] = None,
    lock_timeout: float = LOCK_TIMEOUT_SECS,
) -> Optional["protos.EmbeddingInfo"]:
    """Add ``info`` to ``<logdir>/projector_config.pbtxt``, replacing an entry with the same tensor_name.

    The read-modify-write is atomic against other writers (threads, processes, machines): the
    storage seam's ``update_atomic`` holds the lock file ``.projector_config.pbtxt.lock`` on a
    local disk, or uses conditional writes on an object store. Readers see the old or the new file.

    Returns:
        The entry that was replaced, or None if ``info`` is new.

    Raises:
        ValueError: the existing file is not a text-format ProjectorConfig.
        TimeoutError: another writer held the lock for longer than ``lock_timeout`` seconds.
        OSError: the file cannot be read or written.
    """
    from google.protobuf import text_format

    if storage is None:
        from .storage import storage_for

        storage = storage_for(logdir)
    path = storage.join(logdir, CONFIG_NAME)
    replaced: list = []

    def merged(old: Optional[bytes]) -> bytes:
        config = _parse_config(old, path)
        replaced.clear()
        for existing in config.embeddings:
            if existing.tensor_name == info.tensor_name:
                replaced.append(protos.EmbeddingInfo.FromString(existing.SerializeToString()))
                existing.CopyFrom(info)
                break
        else:
            config.embeddings.add().CopyFrom(info)
        return text_format.MessageToString(config).encode("utf-8")

    storage.update_atomic(path, merged, lock_timeout)
    return replaced[0] if replaced else None


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

    C is 1 (a grayscale PNG), 3 (RGB) or 4 (RGBA). The grid has ceil(sqrt(N)) columns and as many
    rows, row-major from the top-left, empty cells black; ``(width, height)`` is the size of one
    cell: the thumbnail's, or smaller (Pillow's box filter) if the sprite would exceed 8192 px on
    a side.
    """
    count, height, width, channels = thumbs.shape
    side = _grid_side(count)
    new_w, new_h = _fitted_size(side, width, height)
    if (new_w, new_h) != (width, height):
        thumbs = _shrink(thumbs, new_h, new_w)
        height, width = new_h, new_w
    canvas = np.zeros((side, height, side, width, channels), dtype=np.uint8)
    full = count // side  # grid rows without empty cells
    canvas[:full] = thumbs[: full * side].reshape(full, side, height, width, channels).transpose(0, 2, 1, 3, 4)
    rest = count - full * side
    if rest:
        canvas[full, :, :rest] = thumbs[full * side :].transpose(1, 0, 2, 3)
    return encode_png(canvas.reshape(side * height, side * width, channels)), (width, height)


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_logdir(logdir: Any) -> str:
    if not isinstance(logdir, (str, os.PathLike)):
        raise TypeError(f"logdir must be a path, got {type(logdir).__name__}")
    path = os.fspath(logdir)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path


def _check_directory_tag(tag: Any) -> str:
    check_tag(tag)
    if tag in ("", ".", ".."):  # the tag names a directory
        raise ValueError(f"tag must name a directory, got {tag!r}")
    return tag


def _check_mat(mat: Any) -> np.ndarray:
    values = real_array(mat, "mat")
    if values.ndim != 2:
        raise ValueError(f"mat must be 2-D (N points x D dimensions), got shape {tuple(values.shape)}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"mat must have at least one row and one column, got shape {tuple(values.shape)}")
    if values.dtype.kind == "f" and values.dtype.itemsize > 8:
        values = values.astype(np.float64)
    return values


def _check_label_img(label_img: Any, count: int) -> np.ndarray:
    """``label_img`` as a checked (N, C, H, W) numpy array."""
    images = real_array(label_img, "label_img")
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
    """(N, C, H, W) -> (N, H, W, C) uint8 with torch's sprite pixel rule."""
    hwc = images.transpose(0, 2, 3, 1)
    if images.dtype == np.uint8:
        return np.ascontiguousarray(hwc)
    out = np.empty(hwc.shape, dtype=np.uint8)
    step = max(1, (1 << 16) // max(1, hwc[0].size))  # blocks whose float64 temporaries stay in cache
    for start in range(0, hwc.shape[0], step):
        # torch: np.uint8((float64 canvas * 255).clip(0, 255)); NaN (undefined there) -> 0
        scaled = np.multiply(hwc[start:start + step], 255.0, dtype=np.float64)
        np.fmax(scaled, 0.0, out=scaled)  # fmax also turns NaN into 0
        np.minimum(scaled, 255.0, out=scaled)
        out[start:start + step] = scaled
    return out


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


def _parse_config(text: Optional[bytes], path: str) -> "protos.ProjectorConfig":
    """The ProjectorConfig in ``text`` (an empty one for a missing file)."""
    config = protos.ProjectorConfig()
    if text is None:
        return config
    from google.protobuf import text_format

    try:
        text_format.Parse(text.decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot merge into {path!r}: it is not a text-format ProjectorConfig ({exc})") from exc
    return config


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


def _shrink(thumbs: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    """Shrink (N, H, W, C) uint8 thumbnails to (N, new_h, new_w, C) with Pillow's box filter (area average)."""
    from PIL import Image

    out = np.empty((thumbs.shape[0], new_h, new_w, thumbs.shape[3]), dtype=np.uint8)
    images, shrunk = (thumbs[..., 0], out[..., 0]) if thumbs.shape[3] == 1 else (thumbs, out)  # gray: mode "L"
    for index, thumb in enumerate(images):
        # One image at a time: resizing the whole sprite would average across neighbouring cells.
        shrunk[index] = np.asarray(Image.fromarray(thumb).resize((new_w, new_h), Image.Resampling.BOX))
    return out
