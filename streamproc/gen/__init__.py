"""Generators of realistic comment streams and labelled corpora, written for this project."""
