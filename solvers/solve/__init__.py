"""Step 3, solve: the compiled model handed to HiGHS, and the ways around its limits.

``highs`` compiles the model and runs HiGHS; ``guide`` solves large models through
restricted ones; ``overrun`` lets a run that passes its limit finish on a thread of its
own; ``heuristic`` constructs a valid allocation without a solver.
"""
