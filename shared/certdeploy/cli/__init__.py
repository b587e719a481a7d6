"""The `certdeploy` command: admin commands on the data directory and user commands over the API."""
