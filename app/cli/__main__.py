"""`python -m app.cli …` (the demo and the tests start servers this way)."""

from app.cli import main

main()
