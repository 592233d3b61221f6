"""What a running TensorBoard serves for the run ``write_everything`` (tests/test_all_kinds.py) wrote.

One place that knows the data route of every dashboard, shared by the local end-to-end test and the
s3:// logdir test (which compares the two servers' answers). Wall times are dropped because two
writes of the same calls are never at the same instant; every other field is kept as served.
"""

from __future__ import annotations

import json
from typing import Any, Dict
from urllib.parse import quote

DASHBOARDS = ("scalars", "histograms", "images", "audio", "text", "pr_curves", "custom_scalars", "mesh", "hparams", "graphs")
SCALAR_TAGS = ("loss", "hp/accuracy")
IMAGE_TAGS = ("img", "grid", "vid")
HPARAMS_GROUPS_REQUEST = {
    "experimentName": "",
    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    "startIndex": 0,
    "sliceSize": 10,
}
_ROW_ROUTES = ("scalars/", "histograms", "distributions")
_WALL_TIME_KEYS = {"wall_time", "wallTime", "wallTimeSecs", "startTimeSecs", "endTimeSecs", "timeCreatedSecs"}


def without_wall_times(served: Dict[str, Any]) -> Dict[str, Any]:
    """``served_data``'s answer with every wall-time field removed: the first column of the
    ``[wall_time, step, value]`` rows of the scalars, histograms and distributions routes, and
    the wall-time keys of every other JSON answer."""
    return {
        key: [row[1:] for row in value] if key.startswith(_ROW_ROUTES) else _drop_wall_time_keys(value)
        for key, value in served.items()
    }


def _drop_wall_time_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_wall_time_keys(v) for k, v in data.items() if k not in _WALL_TIME_KEYS}
    if isinstance(data, (list, tuple)):
        return [_drop_wall_time_keys(x) for x in data]
    return data


def wait_until_loaded(server, run: str, timeout: float = 120.0) -> None:
    """Wait until every dashboard is enabled and the last-written kinds of ``run`` are served."""
    server.wait_for(lambda d: all(d.get(p, {}).get("enabled") for p in DASHBOARDS), "/data/plugins_listing", timeout)
    server.wait_for(lambda d: len(d) == 5, f"/data/plugin/scalars/scalars?run={quote(run)}&tag=loss", timeout)
    server.wait_for(lambda d: len(d) == 3, f"/data/plugin/histograms/histograms?run={quote(run)}&tag=weights", timeout)
    groups = f"/data/plugin/hparams/session_groups?request={quote(json.dumps(HPARAMS_GROUPS_REQUEST))}"
    server.wait_for(lambda d: len(d.get("sessionGroups", [])) == 1, groups, timeout)
    # the graph is the last thing write_everything writes
    server.wait_for(lambda d: d.get(run, {}).get("run_graph"), "/data/plugin/graphs/info", timeout)


def served_data(server, run: str) -> Dict[str, Any]:
    """Every dashboard's answer for ``run``, as served (JSON parsed, blobs as bytes)."""
    r = quote(run)
    out: Dict[str, Any] = {}
    for tag in SCALAR_TAGS:
        out[f"scalars/{tag}"] = server.get_json(f"/data/plugin/scalars/scalars?run={r}&tag={quote(tag)}")
    out["histograms"] = server.get_json(f"/data/plugin/histograms/histograms?run={r}&tag=weights")
    out["distributions"] = server.get_json(f"/data/plugin/distributions/distributions?run={r}&tag=weights")
    for tag in IMAGE_TAGS:
        meta = server.get_json(f"/data/plugin/images/images?run={r}&tag={tag}&sample=0")
        out[f"images/{tag}"] = meta
        out[f"images/{tag}/blobs"] = [
            server.get_with_type("/data/plugin/images/individualImage?" + entry["query"]) for entry in meta
        ]
    audio = server.get_json(f"/data/plugin/audio/audio?run={r}&tag=snd&sample=0")
    out["audio"] = audio
    out["audio/blobs"] = [server.get_with_type("/data/plugin/audio/individualAudio?" + entry["query"]) for entry in audio]
    out["text"] = server.get_json(f"/data/plugin/text/text?run={r}&tag=notes/text_summary")
    out["pr_curves"] = server.get_json(f"/data/plugin/pr_curves/pr_curves?run={r}&tag=pr")
    out["custom_scalars"] = server.get_json("/data/plugin/custom_scalars/layout")
    out["mesh"] = server.get_json(f"/data/plugin/mesh/meshes?run={r}&tag=mesh&sample=0")
    for content_type in ("VERTEX", "FACE", "COLOR"):
        out[f"mesh/{content_type}"] = server.get(
            f"/data/plugin/mesh/data?run={r}&tag=mesh&sample=0&content_type={content_type}"
        )
    out["hparams/experiment"] = server.query_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    out["hparams/session_groups"] = server.query_json("/data/plugin/hparams/session_groups", HPARAMS_GROUPS_REQUEST)
    out["graph"] = server.get(f"/data/plugin/graphs/graph?run={r}")
    return out
