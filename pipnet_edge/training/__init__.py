"""Training loop, loss, QAT (torch)."""
