"""Plugin names and ``SummaryMetadata``: how TensorBoard decides which dashboard shows a value.

A tag's metadata is taken from its first occurrence in a file/run (docs/FORMAT.md §5.3), so every
builder attaches it to every value it writes, as torch does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .protos import SummaryMetadata

PLUGIN_SCALARS = "scalars"
PLUGIN_AUDIO = "audio"
PLUGIN_TEXT = "text"
PLUGIN_PR_CURVES = "pr_curves"
PLUGIN_MESH = "mesh"
PLUGIN_CUSTOM_SCALARS = "custom_scalars"
PLUGIN_HPARAMS = "hparams"
PLUGIN_TENSOR = "tensor"
PLUGIN_HISTOGRAMS = "histograms"
PLUGIN_IMAGES = "images"
PLUGIN_GRAPHS = "graphs"
PLUGIN_GRAPH_TAGGED_RUN_METADATA = "graph_tagged_run_metadata"
PLUGIN_GRAPH_RUN_METADATA = "graph_run_metadata"
PLUGIN_GRAPH_RUN_METADATA_GRAPH = "graph_run_metadata_graph"
PLUGIN_GRAPH_KERAS_MODEL = "graph_keras_model"

GRAPH_KERAS_MODEL_CONTENT = b"1"
"""The ``graph_keras_model`` plugin's metadata content: Keras's format version of the model config."""

RUN_GRAPH_TAG = "__run_graph__"
"""The tag TensorBoard's loaders file an ``Event.graph_def`` under (docs/FORMAT.md §5.3)."""

HPARAMS_EXPERIMENT_TAG = "_hparams_/experiment"
HPARAMS_SESSION_START_INFO_TAG = "_hparams_/session_start_info"
HPARAMS_SESSION_END_INFO_TAG = "_hparams_/session_end_info"
"""The three tags of the ``hparams`` plugin (docs/FORMAT.md §4 add_hparams, §5.9)."""

TABLE_PLUGINS = frozenset(
    {PLUGIN_SCALARS, PLUGIN_HISTOGRAMS, PLUGIN_TEXT, PLUGIN_PR_CURVES, PLUGIN_IMAGES, PLUGIN_AUDIO, PLUGIN_HPARAMS}
)
"""Plugins whose values the readers turn into a table of their own (scalars, histograms, ...)."""

GRAPH_PLUGINS = frozenset(
    {
        PLUGIN_GRAPHS,
        PLUGIN_GRAPH_TAGGED_RUN_METADATA,
        PLUGIN_GRAPH_RUN_METADATA,
        PLUGIN_GRAPH_RUN_METADATA_GRAPH,
        PLUGIN_GRAPH_KERAS_MODEL,
    }
)
"""The Graphs dashboard's plugins: their values are serialized graphs and run metadata, not tensors."""

IMPLIED_PLUGIN = {"simple_value": PLUGIN_SCALARS, "histo": PLUGIN_HISTOGRAMS, "image": PLUGIN_IMAGES, "audio": PLUGIN_AUDIO}
"""Old-style ``Summary.Value`` fields and the plugin TensorBoard's data layer files them under
(it rewrites them into tensors with that plugin's metadata, docs/FORMAT.md §5.2)."""


def summary_metadata(plugin_name: str, content: bytes = b"", data_class: Optional[int] = None) -> "SummaryMetadata":
    """Return ``SummaryMetadata{plugin_data{plugin_name, content}, data_class}``.

    Args:
        plugin_name: one of the ``PLUGIN_*`` names (must match TensorBoard's exactly).
        content: the serialized plugin-specific proto (empty for version-0 scalar/text/histogram data).
        data_class: set it for plugin names TensorBoard does not know; None leaves it for
            TensorBoard to derive from the plugin name, as torch does.
    """
    from .protos import SummaryMetadata

    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin_name, content=content))
    if data_class is not None:
        meta.data_class = data_class  # type: ignore[assignment]  # an enum value given as int
    return meta


def plugin_of(value: Any) -> str:
    """The plugin a ``Summary.Value`` belongs to: its metadata's, else the one its old-style field implies."""
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        return str(value.metadata.plugin_data.plugin_name)
    return IMPLIED_PLUGIN.get(value.WhichOneof("value") or "", "")
