"""Run a script with TensorFlow, tensorboard and tensorboardX unimportable: ``python blocked.py SCRIPT [ARGS]``.

A meta-path finder placed first refuses the three packages (as if they were not installed), the
script runs as ``__main__``, and at exit the runner checks that none of them got into
``sys.modules`` by another route; it exits 3 if one did.
"""

import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tensorboardX")


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked for this test)", name=name)
        return None


def main():
    sys.meta_path.insert(0, _Blocker())
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        if leaked:
            sys.stderr.write(f"blocked modules were imported: {leaked}\n")
            os._exit(3)


if __name__ == "__main__":
    main()
