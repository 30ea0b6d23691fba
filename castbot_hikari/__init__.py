"""castbot-hikari: reliable season applications for ORGs on Discord."""
