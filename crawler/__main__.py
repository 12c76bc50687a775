"""`python -m crawler` runs the fediscope command line."""

from crawler.cli import main

main()
