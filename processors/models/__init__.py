"""Trained weights shipped with the package (a package so wheels include them)."""
