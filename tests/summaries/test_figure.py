"""add_figure: matplotlib figures rendered and closed as asked, without pyplot for plain Figures (needs matplotlib)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from support.tbutil import plugin_accumulator

pytest.importorskip("matplotlib")


def _figure(seed: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot(np.cos(np.arange(20) * 0.3 + seed), color="tab:blue")
    ax.set_title(f"figure {seed}")
    return fig


def test_figure_close_flag():
    import matplotlib.pyplot as plt

    from eventwriter.summaries.image import figure_summary

    kept = _figure(0)
    canvas = kept.canvas
    figure_summary("f", kept, close=False)
    assert plt.fignum_exists(kept.number) and kept.canvas is canvas
    closed = _figure(1)
    figure_summary("f", closed)
    assert not plt.fignum_exists(closed.number)
    plt.close(kept)


def test_bad_figure():
    from eventwriter.summaries.image import figure_summary

    for bad in (np.zeros((3, 4, 4)), [], [_figure(0), "x"]):
        with pytest.raises(TypeError, match="figure"):
            figure_summary("f", bad)


def test_figures_of_different_sizes():
    import matplotlib.pyplot as plt

    from eventwriter.summaries.image import figure_summary

    small, large = plt.figure(figsize=(2, 2), dpi=50), plt.figure(figsize=(3, 2), dpi=50)
    with pytest.raises(ValueError, match="figure"):
        figure_summary("f", [small, large])


def test_add_figure_does_not_import_pyplot_for_plain_figures(tmp_path):
    """A Figure made without pyplot is rendered and 'closed' without importing pyplot (a backend set-up)."""
    code = (
        "import sys\n"
        "from matplotlib.figure import Figure\n"
        "from eventwriter import SummaryWriter\n"
        "fig = Figure(figsize=(2, 1)); fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])\n"
        f"w = SummaryWriter({str(tmp_path)!r}); w.add_figure('f', fig, 0); w.close()\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no pyplot"
    acc = plugin_accumulator(tmp_path)
    assert acc.Tags()["tensors"] == ["f"]
