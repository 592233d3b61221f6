"""Helpers for the framework adapter tests (Lightning, Hugging Face Trainer).

The adapters must work where TensorFlow, ``tensorboard`` and tensorboardX cannot be imported. The
jobs (``fw_*_job.py`` next to this file) run as scripts in a subprocess; with ``--block`` their
first lines put None into ``sys.modules`` for those three names (``import`` then fails and
``importlib.util.find_spec`` answers "not installed") and their last lines fail the job if any
module of the three was imported after all. The framework's own TensorBoard logger needs
``tensorboard``, so its leg of a differential test runs the same job without ``--block``. The
logdirs are read back here, in the test process, with TensorBoard's loaders.

Nothing here imports torch or a framework, so the test modules collect without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from blocked import BLOCKED

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def run_job(script: str, args: Sequence[str], *, cwd: Path, env: Optional[Dict[str, str]] = None,
            timeout: float = 420, launcher: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run ``tests/integrations/<script>`` with ``args`` in ``cwd``; raise with its output if it fails.

    ``launcher``: arguments put between the interpreter and the script, e.g.
    ``["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]``.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    # one thread per process: steadier timing on the 2 shared cores, same numbers in every leg
    full_env.setdefault("OMP_NUM_THREADS", "1")
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, *launcher, str(HERE / script), *args], cwd=str(cwd), env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-8000:]}")
    return proc


def read_reports(directory: Path) -> List[dict]:
    """Every ``report-*.json`` a job wrote into ``directory`` (one per rank), by rank."""
    reports = [json.loads(p.read_text()) for p in sorted(directory.glob("report-*.json"))]
    return sorted(reports, key=lambda r: r.get("rank", 0))


def event_files(logdir: Path) -> List[Path]:
    """Every event file under ``logdir``."""
    return sorted(p for p in Path(logdir).rglob("*") if "tfevents" in p.name and p.is_file())


def scalars_by_run(logdir: Path) -> Dict[str, Dict[str, List[tuple]]]:
    """``{run: {tag: [(step, float32 value)]}}`` through the legacy ``EventAccumulator``."""
    import numpy as np
    from support.tbutil import legacy_accumulator, run_dirs

    out: Dict[str, Dict[str, List[tuple]]] = {}
    for run, directory in run_dirs(logdir).items():
        acc = legacy_accumulator(directory)
        out[run] = {tag: [(e.step, np.float32(e.value)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    return out


def plugin_view(run_dir: str) -> dict:
    """What the plugin accumulator (the TensorBoard server's Python path) sees in one run.

    Returns ``{"tags": {tag: plugin}, "scalars": {tag: [(step, value)]}, "text": {tag: [(step, str)]},
    "hparams": {...} or None, "graph": bool}``.
    """
    import numpy as np
    from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values

    acc = plugin_accumulator(run_dir)
    tags = plugins_by_tag(acc)
    view: dict = {"tags": tags, "scalars": {}, "text": {}, "hparams": None, "graph": bool(acc.Tags()["graph"])}
    for tag, plugin in tags.items():
        if plugin == "scalars":
            view["scalars"][tag] = [(s, np.float32(v)) for s, v in tensor_values(acc, tag)]
        elif plugin == "text":
            view["text"][tag] = [(s, _text(v)) for s, v in tensor_values(acc, tag)]
    if "_hparams_/session_start_info" in tags:
        view["hparams"] = hparams_view(acc)
    return view


def _text(value) -> str:
    import numpy as np

    flat = np.asarray(value).reshape(-1)
    return "\n".join(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat)


def hparams_view(acc) -> dict:
    """The HParams plugin's data in a run: hparam values, experiment columns and metric tags.

    Booleans are given as numbers, as torch's helper writes them (eventwriter keeps them bool),
    so that both writers' runs compare equal; ``types`` keeps the difference visible.
    """
    from tensorboard.plugins.hparams import plugin_data_pb2

    def content(tag):
        data = plugin_data_pb2.HParamsPluginData()
        data.ParseFromString(acc.SummaryMetadata(tag).plugin_data.content)
        return data

    start = content("_hparams_/session_start_info").session_start_info
    values = {}
    for key, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        values[key] = float(value.bool_value) if kind == "bool_value" else getattr(value, kind)
    experiment = content("_hparams_/experiment").experiment
    return {
        "values": values,
        "columns": sorted(info.name for info in experiment.hparam_infos),
        "types": {info.name: info.type for info in experiment.hparam_infos},
        "metrics": sorted(m.name.tag for m in experiment.metric_infos),
        "status": content("_hparams_/session_end_info").session_end_info.status,
    }


def blocked_preamble() -> str:
    """Python source that makes TensorFlow, tensorboard and tensorboardX unimportable in this process."""
    return "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in BLOCKED)


def blocked_check() -> str:
    """Python source that exits non-zero if any module of the blocked packages was imported."""
    return (
        "import sys as _sys\n"
        f"_leaked = sorted(m for m, v in _sys.modules.items() if m.split('.')[0] in {BLOCKED!r} and v is not None)\n"
        "if _leaked:\n"
        "    raise SystemExit(f'imported although blocked: {_leaked}')\n"
    )
