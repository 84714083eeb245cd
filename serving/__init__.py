"""Scoring, the lists the CRM team acts on, the HTTP service and the command-line tool."""
