"""LEAN data folder: parse vendor CSVs, write LEAN's file formats, read them back."""
