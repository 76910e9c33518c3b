"""Step 2, build the program: the Pyomo model of an ``Instance`` and its matrices.

``program`` creates the model (one function per constraint family); ``rows`` and
``linear_form`` are the engine's own row and column families and their reader into sparse
matrices; ``pyomo_door`` is the only module that touches Pyomo names outside its public API
(``tests/solvers/test_pyomo_door.py`` holds every other file to that); ``export`` writes the
model with Pyomo's own writers.
"""
