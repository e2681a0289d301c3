"""Dark-store simulation (issue #20): a discrete-event model of a dark store that drives
the real batch planner and order state machine. Run ``python -m bench.sim``; see
docs/simulation.md."""
