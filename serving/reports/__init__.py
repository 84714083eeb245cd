"""Reports for people: the CRM team's nightly dashboard (one self-contained HTML page per scoring date)."""
