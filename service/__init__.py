"""Stockpile's service layer: the HTTP API, its settings and errors, the command line."""
