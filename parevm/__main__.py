"""`python -m parevm` is the `parevm` command."""
from parevm.cli import main

raise SystemExit(main())
