"""The breach register (R-BRE-1..3): Art. 33(3) content, the 72-hour clock, notices to people."""
