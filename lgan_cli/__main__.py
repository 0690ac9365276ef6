"""`python -m lgan_cli` runs the command-line app (also what torchrun launches)."""

from lgan_cli.cli.app import main

if __name__ == "__main__":
    main()
