"""Simulated trusted execution environments: measurement, attestation, sealing, key release."""
