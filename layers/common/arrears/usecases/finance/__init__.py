"""What the finance team's API does: read the book, steer an invoice, report on collections.

Pure domain code over the store, log and policy ports; `functions/api` is only its HTTP face.
"""
