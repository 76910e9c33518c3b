"""Step 4, read the answer: the quantities of a solved model (``extract``), snapped to whole lots."""
