"""`python -m devhost`: run the function app locally."""

import atexit
import os
import sys

from devhost.cli import main

code = main()
# Everything the host started is stopped by now. Skip the interpreter's teardown of
# some hundred modules (about a second on a busy machine) so the host is gone within
# two seconds of SIGTERM or Ctrl-C; exit handlers still run (coverage saves its data
# there, so what follows is never measured) and output is flushed.
atexit._run_exitfuncs()
sys.stdout.flush()  # pragma: no cover
sys.stderr.flush()  # pragma: no cover
os._exit(code)  # pragma: no cover
