"""The hub: store registry, catalogue master, central stock, store health, hub pages."""
