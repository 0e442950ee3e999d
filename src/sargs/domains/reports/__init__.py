"""Figures a DPO reads (R-ROPA-3): consent activity over time and current consent state."""
