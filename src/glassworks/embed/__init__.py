"""Text -> n-grams -> pretrained-LM embeddings, each unique n-gram embedded once (cached)."""
