"""Beam PTransforms that executors compose. Importing this package loads nothing heavy."""
