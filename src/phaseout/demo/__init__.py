"""The demo: a synthetic estate, its messy spreadsheets, and every pipeline stage that exists."""
