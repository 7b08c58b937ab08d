"""`python -m devhost`: run the function app locally."""

import atexit
import os
import sys

from devhost.cli import main

code = main()
# Everything the host started is stopped by now. Skip the interpreter's teardown of
# some hundred modules (about a second on a busy machine) so the host is gone within
# two seconds of SIGTERM or Ctrl-C; exit handlers still run and output is flushed.
atexit._run_exitfuncs()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
