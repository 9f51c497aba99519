"""`beampipe ui`: a read-only web UI over the MLMD store and the artifacts it records."""
