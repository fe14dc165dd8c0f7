"""Training building blocks below the estimators: losses and explanation penalties, snapshot
ensembles, evaluation metrics."""
