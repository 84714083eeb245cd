"""The HTTP service: scores by id, from features or raw rows, and the CRM lists, behind bearer tokens."""
