"""One module per demo: a story of steps told to a Narrator. Demos know what to show, not how it looks."""
