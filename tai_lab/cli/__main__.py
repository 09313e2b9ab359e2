"""``python3 -m tai_lab.cli``: the same as ``tai-lab`` (and ``python3 -m tai_lab``)."""
from . import main

main()
