"""Glass-box and black-box models with the scikit-learn API."""
