"""The embedded runtime of `certdeploy serve`: the local runner, its HTTP front and the FC context it emulates."""
