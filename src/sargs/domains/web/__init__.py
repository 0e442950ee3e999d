"""Website visitors: cookie consent, e-mail tracking events and access logs (R-WEB-1..3)."""
