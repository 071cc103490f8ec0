"""A segmentation run: extract from the shop → mine → store, atomically.

``run`` orchestrates one run; ``params`` holds every knob; ``mine`` runs every analysis on an
extract (no database); ``store`` writes the results into the ``crm_`` tables in the run's
transaction; ``assign`` places customers who signed up since the current run without a full
run; ``queue`` holds runs an admin asked for; ``search_index`` is the customer search's word
index, rebuilt after each run.
"""
