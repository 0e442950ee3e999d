"""`make bench`: run every benchmark script in this folder and print their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# floor.py is the reference app other scripts start, profile.py a tool (py-spy); reliability: `make reliability`
SKIP = {"run.py", "loadgen.py", "floor.py", "profile.py", "__init__.py", "reliability.py"}

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in SKIP)
    failed = 0
    for script in scripts:
        print(f"\n##### {script.name}", flush=True)
        failed |= subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0
    sys.exit(1 if failed else 0)
