"""Staff alerts: e-mails to a company's DPO that must go out once (breach deadlines, policy reviews,
ledger failures), made "once" by a unique key inserted with the message."""
