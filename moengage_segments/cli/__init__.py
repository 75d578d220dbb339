"""The ``moengage-segments`` command line (also ``python -m moengage_segments``).

One module per concern: ``args`` (the parser), ``commands`` (file, segments, filter), ``cohort`` (the
push), ``emulator``, ``demo``, ``output``/``progress`` (two renderers: rich on a terminal, plain lines
elsewhere), ``redact`` (the API key never reaches the screen), ``failures`` (exit codes) and ``runner``.
See ``docs/cli.md``.

Example::

    $ moengage-segments demo
    $ MOENGAGE_WORKSPACE_ID=... MOENGAGE_API_KEY=... MOENGAGE_DATA_CENTER=01 \\
        moengage-segments cohort add uids.txt --cohort-id churn --partner warehouse --report report.json
"""

from moengage_segments.cli.failures import ExitCode
from moengage_segments.cli.runner import main

__all__ = ["ExitCode", "main"]
