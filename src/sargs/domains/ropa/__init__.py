"""The record of processing activities (GDPR Art. 30) and processors' contracts (R-ROPA-1,2)."""
