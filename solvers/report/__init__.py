"""Step 5, check and report: the allocation's figures and findings, tested with plain arithmetic.

``result`` computes the result's figures and findings from the quantities; ``check`` tests
every rule of the request on a result (``solvers.check_result``); ``diagnose`` says which
rules keep an infeasible request from any allocation.
"""
