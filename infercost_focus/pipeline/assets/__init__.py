"""Assets in data-flow order: captures, then each billing month's reports, FOCUS rows, finance."""
