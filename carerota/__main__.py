"""``python -m carerota``: the same as the ``carerota`` command."""

import sys

from carerota.cli import main

sys.exit(main())
