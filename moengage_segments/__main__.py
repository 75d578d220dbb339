"""``python -m moengage_segments``: the same command as ``moengage-segments``.

Example::

    python -m moengage_segments segments list --json
"""

import sys

from moengage_segments.cli import main

if __name__ == "__main__":
    sys.exit(main())
