"""zeroserve.servers package."""
