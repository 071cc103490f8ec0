"""The stages of a segmentation run; ``shopcrm.pipeline`` orchestrates them.

``params`` holds every knob, ``mine`` every analysis on an extract (no database), ``store``
writes the results into the ``crm_`` tables in the caller's transaction, and ``assign``
places customers who signed up since the current run without a full run.
"""
