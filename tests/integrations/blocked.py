"""Run a script with TensorFlow, tensorboard and tensorboardX unimportable: ``python blocked.py SCRIPT [ARGS]``.

The three names are set to None in ``sys.modules``, Python's own "not importable" marker: ``import
tensorflow`` raises ImportError and ``importlib.util.find_spec("tensorflow")`` returns None, as if
the packages were not installed (libraries that probe for TensorFlow, like torch._dynamo, take
that path). The script runs as ``__main__``; at exit the runner checks that the markers are still
in place and that no submodule of the three got loaded, and exits 3 otherwise.

Also imported (``block``, ``leaked``) by the framework jobs, which block in-process under ``--block``
because a launcher such as torchrun starts them itself.
"""

import faulthandler
import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tensorboardX")


def block() -> None:
    """Make the three packages unimportable in this process."""
    for name in BLOCKED:
        sys.modules[name] = None  # type: ignore[assignment]


def leaked() -> list:
    """Modules of the three packages that got imported anyway (none while the markers hold)."""
    return sorted(name for name, module in list(sys.modules.items()) if name.split(".")[0] in BLOCKED and module is not None)


def main():
    # A script still running after 280 s prints every thread's stack and exits, so a hang
    # fails the test with its cause instead of a bare timeout (runner.py waits 300 s).
    faulthandler.dump_traceback_later(280, exit=True)
    block()
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        imported = leaked()
        if imported:
            sys.stderr.write(f"blocked modules were imported: {imported}\n")
            sys.stderr.flush()
            os._exit(3)


if __name__ == "__main__":
    main()
