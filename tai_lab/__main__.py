"""``python3 -m tai_lab``: the same as ``tai-lab``."""
from .cli import main

main()
