"""`python -m parevm` is the `parevm` command."""
from parevm.cli import command_line

command_line()
