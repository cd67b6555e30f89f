"""Thin Faust adapters around the detection cores: read, call, time, publish."""
