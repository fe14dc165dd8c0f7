"""Path attributions and interactions (Integrated/Expected Gradients and Hessians)."""
