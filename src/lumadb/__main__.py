"""``python -m lumadb``: the ``luma`` command line."""

from lumadb.cli import main

if __name__ == "__main__":
    main()
