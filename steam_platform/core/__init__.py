"""What every layer shares: constants, partitions, cadences, settings, table contracts, automation."""
