"""What importing eventwriter loads: never torch, tensorboard, numpy or protobuf for the scalar path."""

from __future__ import annotations

import subprocess
import sys


from support.processes import ROOT


def test_import_without_torch_and_tensorboard(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['torch'] = None; sys.modules['tensorboard'] = None\n"
        "import eventwriter\n"
        "assert 'numpy' not in sys.modules and 'google.protobuf' not in sys.modules, 'import is not lean'\n"
        "from eventwriter import SummaryWriter\n"
        "import numpy as np\n"
        f"w = SummaryWriter({str(tmp_path)!r})\n"
        "w.add_scalar('s', 1.0, 1); w.add_text('t', 'x'); w.add_tensor('z', np.arange(4, dtype=np.uint8))\n"
        "w.close()\n"
        "from eventwriter.reader import scalars\n"
        f"print(scalars({str(tmp_path)!r})['.']['s'][0].value)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.0"
