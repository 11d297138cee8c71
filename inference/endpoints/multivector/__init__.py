"""The multi-vector slice: late-interaction (ColBERT) token vectors and MaxSim scores."""
