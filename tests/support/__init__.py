"""Helpers shared by the tests: TensorBoard's loaders as the oracle, real servers, fault injection."""
