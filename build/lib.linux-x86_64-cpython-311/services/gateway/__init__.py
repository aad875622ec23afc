"""The gateway: the one HTTP front door for users and provincial systems."""
