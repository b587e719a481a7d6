"""What knows it runs on Function Compute: trigger events, the HTTP trigger's request and reply, handler support.

Only `functions/` and the local emulator (`certdeploy.local`) import it.
"""
