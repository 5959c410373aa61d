"""Extract the ``name==version`` pins of LEAN's DockerfileLeanFoundation (prints a sorted list)."""
import re
import sys
from pathlib import Path

PIN = re.compile(r"([A-Za-z0-9_.\-]+)(?:\[[A-Za-z0-9_,\-]+\])?==([A-Za-z0-9_.+\-]+)")

if __name__ == "__main__":
    text = Path(sys.argv[1]).read_text()
    pins = sorted({f"{m.group(1)}=={m.group(2)}" for m in PIN.finditer(text)}, key=str.lower)
    print("\n".join(pins))
