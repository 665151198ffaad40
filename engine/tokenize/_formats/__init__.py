"""Private: the PII formats behind ``engine.tokenize.tokenize_frame``."""
