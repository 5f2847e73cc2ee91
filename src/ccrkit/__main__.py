"""`python -m ccrkit` is the same as the `ccrkit` command."""

from ccrkit.cli.main import main

raise SystemExit(main())
