"""Echo: the smallest enclave app, for tests and as a template."""
