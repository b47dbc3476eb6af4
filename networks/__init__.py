"""Networks: hider and seeker builders, binary neurons, the Hide-and-Seek model, weights by layer name."""
