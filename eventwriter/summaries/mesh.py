"""3-D meshes and point clouds for TensorBoard's Mesh dashboard, as torch's ``add_mesh`` writes them.

Layout (docs/FORMAT.md §3.5, §4): one ``Summary`` with one value per part given, in the order vertices,
faces, colors, tagged ``<tag>_VERTEX``, ``<tag>_FACE``, ``<tag>_COLOR``. Each holds a DT_FLOAT
tensor of shape ``[B, N, 3]`` (B samples; N vertices, faces or colors) and metadata of plugin
``mesh`` with content ``MeshPluginData{version 0, name=<tag>, content_type, json_config, shape,
components}``; ``components`` is the OR of ``1 << content_type`` over the parts present, and
``json_config`` is ``json.dumps(config_dict, sort_keys=True)`` or ``"{}"``. The dashboard groups
the parts by ``name`` and casts faces to int32 and colors to uint8 when serving.

Differences from torch (which writes whatever it is given):
* Every part must have shape ``[B, N, 3]`` with the vertices' B; colors need the vertices' N.
* Vertices must be finite. Faces must be whole numbers indexing the vertices (0 <= f < N).
* Colors must be finite and within 0..255 (``ValueError``; the dashboard's uint8 cast would wrap
  them around). Colors with a fractional part are truncated by the dashboard, so they trigger a
  warning, which also points out 0..1 colors (they would all turn black).
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, List, Optional

import numpy as np

from .. import protos
from ..metadata import PLUGIN_MESH, summary_metadata
from ..arrays import real_array
from ..tensor_codec import tensor_proto

__all__ = ["mesh_summary"]

_PART_SUFFIX = {protos.MESH_VERTEX: "VERTEX", protos.MESH_FACE: "FACE", protos.MESH_COLOR: "COLOR"}


def _part(value: Any, name: str, batch: Optional[int] = None) -> np.ndarray:
    array = real_array(value, name)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{name} must have shape (B, N, 3), got {tuple(array.shape)}")
    if batch is not None and array.shape[0] != batch:
        raise ValueError(f"{name} must have the vertices' batch size {batch}, got shape {tuple(array.shape)}")
    return array


def mesh_summary(
    tag: str,
    vertices: Any,
    colors: Any = None,
    faces: Any = None,
    config_dict: Optional[Dict[str, Any]] = None,
) -> "protos.Summary":
    """Summary with a mesh or point cloud: one value per part given (vertices, faces, colors).

    Args:
        tag: the mesh's name; the values are tagged ``<tag>_VERTEX``, ``<tag>_FACE``, ``<tag>_COLOR``.
        vertices: (B, N, 3) coordinates.
        colors: optional (B, N, 3) RGB per vertex, in 0..255.
        faces: optional (B, F, 3) vertex indices of each triangle.
        config_dict: optional three.js settings (camera, lights, material), stored as JSON.

    Returns:
        ``Summary`` with 1 to 3 values, all with ``mesh`` metadata.

    Raises:
        TypeError: non-numeric arrays; ``config_dict`` not a dict or not JSON-serializable.
        ValueError: wrong shapes, non-finite vertices, faces that are not vertex indices,
            colors outside 0..255.
    """
    vertex_array = _part(vertices, "vertices")
    batch, num_vertices = vertex_array.shape[0], vertex_array.shape[1]
    if not np.all(np.isfinite(vertex_array)):
        raise ValueError("vertices must be finite")
    parts: List[tuple] = [(protos.MESH_VERTEX, vertex_array)]

    if faces is not None:
        face_array = _part(faces, "faces", batch)
        if face_array.size:
            if face_array.dtype.kind == "f" and (
                not np.all(np.isfinite(face_array)) or np.any(face_array != np.floor(face_array))
            ):
                raise ValueError("faces must hold whole-number vertex indices")
            low, high = face_array.min(), face_array.max()
            if low < 0 or high >= num_vertices:
                raise ValueError(f"faces must index the {num_vertices} vertices (0..{num_vertices - 1}), got {low}..{high}")
        parts.append((protos.MESH_FACE, face_array))

    if colors is not None:
        color_array = _part(colors, "colors", batch)
        if color_array.shape[1] != num_vertices:
            raise ValueError(f"colors must have one row per vertex ({num_vertices}), got shape {tuple(color_array.shape)}")
        if color_array.size:
            if not np.all(np.isfinite(color_array)):
                raise ValueError("colors must be finite")
            low, high = float(color_array.min()), float(color_array.max())
            if low < 0 or high > 255:
                raise ValueError(f"colors must be in 0..255, got values in [{low}, {high}]")
            if color_array.dtype.kind == "f" and np.any(color_array != np.floor(color_array)):
                hint = " (they look like 0..1 values: multiply by 255)" if high <= 1.0 else ""
                warnings.warn(
                    f"colors: fractional values are truncated to integers 0..255 by TensorBoard{hint}",
                    stacklevel=3,
                )
        parts.append((protos.MESH_COLOR, color_array))

    if config_dict is None:
        json_config = "{}"
    elif not isinstance(config_dict, dict):
        raise TypeError(f"config_dict must be a dict or None, got {type(config_dict).__name__}")
    else:
        try:
            json_config = json.dumps(config_dict, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"config_dict must be JSON-serializable: {exc}") from exc

    components = 0
    for content_type, _ in parts:
        components |= 1 << content_type
    values = []
    for content_type, array in parts:
        content = protos.MeshPluginData(
            version=0,
            name=tag,
            content_type=content_type,
            json_config=json_config,
            shape=list(array.shape),
            components=components,
        ).SerializeToString()
        values.append(
            protos.Summary.Value(
                tag=f"{tag}_{_PART_SUFFIX[content_type]}",
                tensor=tensor_proto(np.asarray(array, dtype=np.float32)),
                metadata=summary_metadata(PLUGIN_MESH, content),
            )
        )
    return protos.Summary(value=values)
