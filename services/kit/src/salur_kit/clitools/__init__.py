"""Commands of the `salur` CLI for people running the platform: status, events, trace."""
