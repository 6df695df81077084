"""``python -m spendwatch.cli``: the same as the ``spendwatch`` command."""

import sys

from spendwatch.cli import main

sys.exit(main())
