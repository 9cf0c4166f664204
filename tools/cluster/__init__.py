"""The cluster test's pieces; ``tools/cluster_test.py`` is the command and says what it proves.

The load test's pieces in ``benchmarks/`` (instance, seeding, gunicorn's start and stop, the
forms) are reused. ``benchmarks/`` is a folder of scripts, not a package, so it goes on the
import path here, where it happens once and before any module of this package imports from it.
"""

import sys
from pathlib import Path

#: The repository: the files in deploy/ and static/ are read from it, gunicorn runs in it.
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
