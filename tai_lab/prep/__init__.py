"""The prep phase: start state of the pods, the candidate's cahier des charges, the
offline package depot, checking the candidate's work and sealing it for the jury."""
