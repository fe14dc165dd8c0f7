"""Experiment drivers above the estimators: the CDEP penalty grid and the tabular method
comparison (each trains several models and scores them by the selection protocol)."""
