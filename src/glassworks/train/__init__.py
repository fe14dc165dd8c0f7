"""Training loops, losses and evaluation."""
