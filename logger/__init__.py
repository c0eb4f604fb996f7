"""zeroserve.logger package."""
