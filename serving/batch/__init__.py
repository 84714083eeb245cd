"""The nightly job: features at a date, scores, bands, reasons, checks, publication to the score store."""
