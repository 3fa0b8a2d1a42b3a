"""The tools: list, doctor, inspect, cleanup. Like demos, they talk only to a Narrator."""
