"""python -m rp_toolkit: the rp-toolkit command."""

import sys

from .cli import main

sys.exit(main())
