"""`python -m devhost`: run the function app locally."""

from devhost.cli import main

raise SystemExit(main())
