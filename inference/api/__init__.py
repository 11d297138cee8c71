"""HTTP layer (Flask). Never imports torch."""
