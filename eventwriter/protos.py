"""Protocol buffer messages of the TensorBoard event format, under our own package.

This is the only module that imports the generated code in ``eventwriter/_proto/``
(built from the ``.proto`` sources in the repository's ``proto/``, see ``proto/README.md``;
regenerate with ``python proto/generate.py``). Everything
else imports message classes and enum values from here.

The messages are declared in the project's own ``.proto`` files with package
``eventwriter`` (``eventwriter.hparams``, ``eventwriter.mesh``,
``eventwriter.projector``). Field numbers and types are identical to
TensorBoard's (docs/FORMAT.md section 3), so the wire bytes are the same, while
the different package lets these classes live in one process with
tensorboard's own generated modules. Fields this project never writes are left
out (each ``.proto`` file's header names them), but some messages are declared
although eventwriter never writes them: ``ScalarPluginData``,
``HistogramPluginData``, ``ImagePluginData`` and ``TextPluginData`` (eventwriter
leaves that content empty, as torch does) are needed to decode the plugin
metadata that other writers, such as TensorFlow, put in their files.

Nested types are attributes of their parent, as usual: ``Summary.Value``,
``Summary.Image``, ``Summary.Audio``, ``SummaryMetadata.PluginData``,
``TensorShapeProto.Dim``, ``AttrValue.ListValue``, ``MarginChartContent.Series``.
Values of ``SessionStartInfo.hparams`` and ``HParamInfo.domain_discrete`` are
``google.protobuf.struct_pb2.Value`` / ``ListValue``.
"""

from ._proto import attr_value_pb2 as _attr_value_pb2
from ._proto import event_pb2 as _event_pb2
from ._proto import graph_pb2 as _graph_pb2
from ._proto import histogram_pb2 as _histogram_pb2
from ._proto import hparams_pb2 as _hparams_pb2
from ._proto import layout_pb2 as _layout_pb2
from ._proto import mesh_pb2 as _mesh_pb2
from ._proto import node_def_pb2 as _node_def_pb2
from ._proto import plugin_data_pb2 as _plugin_data_pb2
from ._proto import projector_config_pb2 as _projector_config_pb2
from ._proto import run_metadata_pb2 as _run_metadata_pb2
from ._proto import step_stats_pb2 as _step_stats_pb2
from ._proto import summary_pb2 as _summary_pb2
from ._proto import tensor_pb2 as _tensor_pb2
from ._proto import tensor_shape_pb2 as _tensor_shape_pb2
from ._proto import types_pb2 as _types_pb2
from ._proto import versions_pb2 as _versions_pb2

__all__ = [
    # event.proto
    "Event",
    "SourceMetadata",
    "SessionLog",
    "LogMessage",
    "TaggedRunMetadata",
    # summary.proto, histogram.proto, tensor*.proto
    "Summary",
    "SummaryMetadata",
    "HistogramProto",
    "TensorProto",
    "TensorShapeProto",
    # graphs
    "GraphDef",
    "NodeDef",
    "AttrValue",
    "NameAttrList",
    "VersionDef",
    "RunMetadata",
    "StepStats",
    "DeviceStepStats",
    "NodeExecStats",
    # plugin contents
    "ScalarPluginData",
    "ImagePluginData",
    "AudioPluginData",
    "HistogramPluginData",
    "TextPluginData",
    "PrCurvePluginData",
    "MeshPluginData",
    "Layout",
    "Category",
    "Chart",
    "MultilineChartContent",
    "MarginChartContent",
    "HParamsPluginData",
    "Experiment",
    "HParamInfo",
    "MetricInfo",
    "MetricName",
    "SessionStartInfo",
    "SessionEndInfo",
    "ProjectorConfig",
    "EmbeddingInfo",
    "SpriteMetadata",
    # TensorProto.dtype values
    "DT_FLOAT",
    "DT_DOUBLE",
    "DT_INT32",
    "DT_UINT8",
    "DT_INT16",
    "DT_INT8",
    "DT_STRING",
    "DT_COMPLEX64",
    "DT_INT64",
    "DT_BOOL",
    "DT_BFLOAT16",
    "DT_UINT16",
    "DT_COMPLEX128",
    "DT_HALF",
    "DT_UINT32",
    "DT_UINT64",
    # SummaryMetadata.data_class values
    "DATA_CLASS_UNKNOWN",
    "DATA_CLASS_SCALAR",
    "DATA_CLASS_TENSOR",
    "DATA_CLASS_BLOB_SEQUENCE",
    # other enum values
    "AUDIO_ENCODING_WAV",
    "MESH_VERTEX",
    "MESH_FACE",
    "MESH_COLOR",
    "HPARAM_TYPE_STRING",
    "HPARAM_TYPE_BOOL",
    "HPARAM_TYPE_FLOAT64",
    "STATUS_SUCCESS",
    "SESSION_LOG_START",
]

Event = _event_pb2.Event
SourceMetadata = _event_pb2.SourceMetadata
SessionLog = _event_pb2.SessionLog
LogMessage = _event_pb2.LogMessage
TaggedRunMetadata = _event_pb2.TaggedRunMetadata

Summary = _summary_pb2.Summary
SummaryMetadata = _summary_pb2.SummaryMetadata
HistogramProto = _histogram_pb2.HistogramProto
TensorProto = _tensor_pb2.TensorProto
TensorShapeProto = _tensor_shape_pb2.TensorShapeProto

GraphDef = _graph_pb2.GraphDef
NodeDef = _node_def_pb2.NodeDef
AttrValue = _attr_value_pb2.AttrValue
NameAttrList = _attr_value_pb2.NameAttrList
VersionDef = _versions_pb2.VersionDef
RunMetadata = _run_metadata_pb2.RunMetadata
StepStats = _step_stats_pb2.StepStats
DeviceStepStats = _step_stats_pb2.DeviceStepStats
NodeExecStats = _step_stats_pb2.NodeExecStats

ScalarPluginData = _plugin_data_pb2.ScalarPluginData
ImagePluginData = _plugin_data_pb2.ImagePluginData
AudioPluginData = _plugin_data_pb2.AudioPluginData
HistogramPluginData = _plugin_data_pb2.HistogramPluginData
TextPluginData = _plugin_data_pb2.TextPluginData
PrCurvePluginData = _plugin_data_pb2.PrCurvePluginData
MeshPluginData = _mesh_pb2.MeshPluginData
Layout = _layout_pb2.Layout
Category = _layout_pb2.Category
Chart = _layout_pb2.Chart
MultilineChartContent = _layout_pb2.MultilineChartContent
MarginChartContent = _layout_pb2.MarginChartContent
HParamsPluginData = _hparams_pb2.HParamsPluginData
Experiment = _hparams_pb2.Experiment
HParamInfo = _hparams_pb2.HParamInfo
MetricInfo = _hparams_pb2.MetricInfo
MetricName = _hparams_pb2.MetricName
SessionStartInfo = _hparams_pb2.SessionStartInfo
SessionEndInfo = _hparams_pb2.SessionEndInfo
ProjectorConfig = _projector_config_pb2.ProjectorConfig
EmbeddingInfo = _projector_config_pb2.EmbeddingInfo
SpriteMetadata = _projector_config_pb2.SpriteMetadata

DT_FLOAT = _types_pb2.DT_FLOAT
DT_DOUBLE = _types_pb2.DT_DOUBLE
DT_INT32 = _types_pb2.DT_INT32
DT_UINT8 = _types_pb2.DT_UINT8
DT_INT16 = _types_pb2.DT_INT16
DT_INT8 = _types_pb2.DT_INT8
DT_STRING = _types_pb2.DT_STRING
DT_COMPLEX64 = _types_pb2.DT_COMPLEX64
DT_INT64 = _types_pb2.DT_INT64
DT_BOOL = _types_pb2.DT_BOOL
DT_BFLOAT16 = _types_pb2.DT_BFLOAT16
DT_UINT16 = _types_pb2.DT_UINT16
DT_COMPLEX128 = _types_pb2.DT_COMPLEX128
DT_HALF = _types_pb2.DT_HALF
DT_UINT32 = _types_pb2.DT_UINT32
DT_UINT64 = _types_pb2.DT_UINT64

DATA_CLASS_UNKNOWN = _summary_pb2.DATA_CLASS_UNKNOWN
DATA_CLASS_SCALAR = _summary_pb2.DATA_CLASS_SCALAR
DATA_CLASS_TENSOR = _summary_pb2.DATA_CLASS_TENSOR
DATA_CLASS_BLOB_SEQUENCE = _summary_pb2.DATA_CLASS_BLOB_SEQUENCE

AUDIO_ENCODING_WAV = _plugin_data_pb2.AudioPluginData.WAV
MESH_VERTEX = _mesh_pb2.MeshPluginData.VERTEX
MESH_FACE = _mesh_pb2.MeshPluginData.FACE
MESH_COLOR = _mesh_pb2.MeshPluginData.COLOR
HPARAM_TYPE_STRING = _hparams_pb2.DATA_TYPE_STRING
HPARAM_TYPE_BOOL = _hparams_pb2.DATA_TYPE_BOOL
HPARAM_TYPE_FLOAT64 = _hparams_pb2.DATA_TYPE_FLOAT64
STATUS_SUCCESS = _hparams_pb2.STATUS_SUCCESS
SESSION_LOG_START = _event_pb2.SessionLog.START
